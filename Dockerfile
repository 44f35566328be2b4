# Production image: slim, non-root; migrations run under an advisory lock, then the server starts.
# Configure with SIGAP_DATABASE_URL (PostgreSQL), SIGAP_SECURITY__SECRET_KEY and
# SIGAP_SECURITY__ENCRYPTION_KEYS (see docs/operators.md); `sigap secrets` prints fresh values.
# Production layout (PostgreSQL settings, proxy, backups, HA): docs/deploy.md. Run it with a
# restart policy (`--restart=always`, Kubernetes). Set FORWARDED_ALLOW_IPS to the reverse proxy's
# address or network (e.g. -e FORWARDED_ALLOW_IPS=10.0.0.5): uvicorn then takes the client address
# from X-Forwarded-For as the right-most hop that is not a trusted proxy, which the rate limits
# count. Unset, only loopback is trusted (every client looks like the proxy); `*` (any client
# chooses its own address) is refused in production.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md NOTICE ./
COPY app ./app
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /srv/sigap sigap
WORKDIR /srv/sigap
COPY --from=build /install /usr/local
COPY migrations ./migrations
COPY app ./app
USER sigap
ENV PYTHONUNBUFFERED=1
EXPOSE 8000
# /healthz: the process answers ("restart me" when not); the proxy routes on /readyz.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# `sigap serve` applies pending migrations and loads missing reference data before serving.
CMD ["sigap", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]

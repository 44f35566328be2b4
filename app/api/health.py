"""Liveness, readiness, metrics, and the problem-type catalogue.

What anyone may read says only "alive" and "ready or not": whoever holds a victim's phone must
not watch figures move (a cancel, staff responding). The loops' details and every metric answer
only the operator's credential (``SIGAP_OPS__METRICS_TOKEN``), compared in constant time.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from app.api.deps import Context, error_responses
from app.api.problems import problem_catalogue
from app.context import AppContext
from app.errors import NotFound, Unauthenticated
from app.observability import exposition
from app.sla import metrics as sla_metrics
from app.watchdog import loop_report, publish_loops

router = APIRouter(tags=["operations"])
log = logging.getLogger("sigap.health")
TOKEN_SETTING = "SIGAP_OPS__METRICS_TOKEN"  # noqa: S105 - a setting's name
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="sigap-operations"'}


def operator_credential(request: Request, context: AppContext) -> bool:
    """True when the request carries the operator's credential; False when it carries none;
    401 when it carries a wrong one, or any while the setting is unset (said in the answer:
    only the operator sends one)."""
    header = request.headers.get("authorization")
    if header is None:
        return False
    expected = context.settings.ops.metrics_token.get_secret_value()
    if not expected:
        raise Unauthenticated(
            f"Operations details are refused until {TOKEN_SETTING} is set (docs/deploy.md).",
            headers=_CHALLENGE,
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        return True
    raise Unauthenticated(
        "Send `Authorization: Bearer <the operator's token>`.", headers=_CHALLENGE
    )


def require_operator(request: Request, context: AppContext) -> None:
    if not operator_credential(request, context):
        raise Unauthenticated(
            "Send `Authorization: Bearer <the operator's token>`"
            + (
                ""
                if context.settings.ops.metrics_token.get_secret_value()
                else f" ({TOKEN_SETTING} is not set: docs/deploy.md)"
            )
            + ".",
            headers=_CHALLENGE,
        )


def log_unset_token(context: AppContext) -> None:
    """An upgraded deployment has no token yet: it serves everything else, and says why its
    scrapes fail (never a reason not to start)."""
    if not context.settings.ops.metrics_token.get_secret_value():
        log.warning(
            "/metrics and /readyz details are refused: %s is not set. Generate one with "
            "`sigap secrets`, set it, and give it to Prometheus (`authorization: "
            "credentials_file`, docs/deploy.md section 5).",
            TOKEN_SETTING,
        )


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}  # nothing else: it is public


@router.get(
    "/readyz",
    summary="Alerts can be accepted (the database answers)",
    description=(
        "200 while the database answers, 503 otherwise; the body is only `status`. With the "
        "operator's credential (`Authorization: Bearer`, SIGAP_OPS__METRICS_TOKEN) it also "
        "reports the database, the reference data version and the background loops (heartbeat "
        "age, stalled, last error, items set aside); a stalled loop never makes this fail, so "
        "intake is never taken out of the load balancer for it."
    ),
    responses={
        **error_responses(Unauthenticated),
        503: {"description": "The database does not answer"},
    },
)
async def readyz(request: Request, context: Context) -> JSONResponse:
    detailed = operator_credential(request, context)
    database = "ok"
    try:
        async with context.sessions() as session:
            async with asyncio.timeout(2):
                await session.execute(text("SELECT 1"))
    except TimeoutError:
        # Every connection busy with a burst is a database that answers, just not this probe
        # first: a burst must not take intake out of its load balancer.
        database = "busy" if _pool_saturated(context) else "unavailable: no answer"
    except Exception as exc:  # any other failure means "not ready", whatever its kind
        database = f"unavailable: {type(exc).__name__}"
    ready = database in ("ok", "busy")
    body: dict[str, Any] = {"status": "ready" if ready else "unavailable"}
    if detailed:
        body |= {
            "database": database,
            "reference_version": context.geo.version,
            "loops": loop_report(context),
        }
    return JSONResponse(
        body,
        status_code=200 if ready else 503,
        headers={} if ready else {"Retry-After": "2"},
    )


def _pool_saturated(context: AppContext) -> bool:
    pool = context.engine.sync_engine.pool
    capacity = context.settings.db.pool_size + context.settings.db.max_overflow
    return isinstance(pool, QueuePool) and pool.checkedout() >= capacity


@router.get(
    "/metrics",
    summary="Prometheus metrics (every worker's, with several workers)",
    description="Only with the operator's credential: `Authorization: Bearer` "
    "SIGAP_OPS__METRICS_TOKEN.",
    response_class=Response,
    responses=error_responses(Unauthenticated),
)
async def metrics(request: Request, context: Context) -> Response:
    require_operator(request, context)
    publish_loops(context)
    try:
        async with context.sessions() as session:
            async with asyncio.timeout(2):
                figures = await sla_metrics.snapshot(session, context.clock.now())
    except Exception:  # an unreachable database must not make the scrape fail
        log.warning("metrics: database figures unavailable", exc_info=True)
    else:
        m = context.metrics
        for state, count in figures.alerts_by_state.items():
            m.alerts_by_state.labels(state).set(count)
        for status in ("running", "warning"):
            m.sla_clocks.labels(status).set(figures.clocks_by_status.get(status, 0))
        for clock, count in figures.breaches_by_clock.items():
            m.sla_breaches.labels(clock).set(count)
        m.oldest_unacknowledged.set(figures.oldest_unacknowledged_s)
        m.dispatch_queue_depth.set(figures.dispatch_queue_depth)
    return Response(exposition(context.metrics.registry), media_type=CONTENT_TYPE_LATEST)


worker_router = APIRouter(tags=["operations"])
"""All a ``--role worker`` process serves: it runs the loops and answers no API request."""
worker_router.add_api_route("/healthz", healthz, methods=["GET"], summary="The process is alive")
worker_router.add_api_route(
    "/readyz", readyz, methods=["GET"], summary="The database answers; the loops' heartbeats"
)
worker_router.add_api_route(
    "/metrics", metrics, methods=["GET"], response_class=Response, summary="Prometheus metrics"
)


@router.get("/problems", summary="Every problem type this API returns", include_in_schema=True)
async def problems() -> list[dict[str, Any]]:
    return problem_catalogue()


@router.get("/problems/{slug}", summary="One problem type", include_in_schema=False)
async def problem(slug: str) -> dict[str, Any]:
    for entry in problem_catalogue():
        if entry["type"].rsplit("/", 1)[-1] == slug:
            return entry
    raise NotFound()

"""Pure ASGI middleware: body size limit, content-type check, request metrics, safe headers
(and HSTS when the deployment is served over HTTPS).

The size limit counts bytes as they arrive, so a body without Content-Length cannot get past it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PROBLEM_BASE, BodyTooLarge, DomainError, UnsupportedMediaType
from app.observability import Metrics

# Routes whose bodies are not JSON objects read by a strict model.
FORM_PATHS = frozenset({"/v1/auth/token", "/v1/auth/revoke"})
PRESS_PATH = "/v1/alerts"
BEACON_PATH = "/v1/stream/leave"
"""A ``navigator.sendBeacon`` body is text/plain (a browser may refuse other types): the route
parses it itself."""
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")
"""A year; no includeSubDomains: the operator's other hosts are not ours to decide for."""


class EdgeMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, metrics: Metrics, hsts: bool = False
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        # Served over HTTPS (the public URL says so): browsers must never try plain HTTP, where
        # a network in between could serve a fake console or read a session cookie.
        self.headers = _SECURITY_HEADERS + ([HSTS] if hsts else [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder = [500]
        headers = {k.lower(): v for k, v in scope.get("headers", [])}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                existing = list(message.get("headers", []))
                present = {name.lower() for name, _ in existing}
                # A route that set one of these (the token endpoint's no-store) keeps its own.
                message["headers"] = existing + [h for h in self.headers if h[0] not in present]
            await send(message)

        try:
            early = self._early_refusal(scope, headers)
            if early is not None:
                await _send_problem(scope, send_wrapper, early)
                return
            await self.app(scope, self._limited(receive), send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(template, scope["method"], str(status_holder[0])).inc()
            if template == PRESS_PATH and scope["method"] == "POST":
                self.metrics.intake_latency.observe(time.perf_counter() - started)

    def _early_refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> DomainError | None:
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return BodyTooLarge(f"Bodies are limited to {self.max_body_bytes} bytes.")
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return None
        path = scope["path"]
        if path in (PRESS_PATH, BEACON_PATH) or path in FORM_PATHS:
            return None  # the press takes any body; the token routes check form data themselves
        has_body = (length is not None and length != b"0") or b"transfer-encoding" in headers
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if has_body and not (
            content_type == b"application/json" or content_type.endswith(b"+json")
        ):
            return UnsupportedMediaType("Send the body as application/json.")
        return None

    def _limited(self, receive: Receive) -> Receive:
        received = 0
        limit = self.max_body_bytes

        async def wrapped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(f"Bodies are limited to {limit} bytes.")
            return message

        return wrapped


async def _send_problem(scope: Scope, send: Send, error: DomainError) -> None:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + error.slug,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "instance": scope["path"],
        "retryable": error.retryable,
    }
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})

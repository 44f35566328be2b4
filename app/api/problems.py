"""One renderer for every error: RFC 9457 ``application/problem+json`` with a stable ``type``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.audience import authorize_before_input
from app.db import is_outage
from app.errors import (
    PROBLEM_TYPES,
    DomainError,
    InternalError,
    MalformedJson,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)

log = logging.getLogger("sigap.errors")
PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_S = "2"
"""Seconds a client waits before retrying after a 503 (the phone app backs off from there)."""


class Problem(BaseModel):
    """RFC 9457 problem details. `retryable` tells the app whether retrying can succeed."""

    type: str = Field(examples=["/problems/validation-error"])
    title: str
    status: int
    detail: str
    instance: str | None = None
    retryable: bool = False
    errors: list[dict[str, Any]] | None = Field(None, description="Field errors, for 422")


def problem_response(request: Request, error: DomainError) -> JSONResponse:
    body: dict[str, Any] = {
        "type": error.type_uri(),
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "instance": request.url.path,
        "retryable": error.retryable,
        **error.extra,
    }
    return JSONResponse(
        body, status_code=error.status, headers=error.headers, media_type=PROBLEM_MEDIA_TYPE
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Never echo the input back: it may hold personal data.
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]


def outage_response(request: Request) -> JSONResponse:
    request.app.state.context.metrics.database_unavailable.inc()
    return problem_response(
        request,
        ServiceUnavailable(
            "The database cannot be reached. Nothing was recorded; retry shortly.",
            headers={"Retry-After": RETRY_AFTER_S},
        ),
    )


class ProblemGuard:
    """Innermost middleware: no exception leaves the application as an exception.

    Starlette hands an exception without a specific handler to its outermost error middleware,
    which answers and then *re-raises* it; uvicorn then closes the connection, and a client
    reusing that keep-alive connection sees a reset. An exception after the answer went out (a
    dependency's teardown: closing a session on a connection the crash killed) is logged and
    dropped here, since the client already has its answer; before it, it is answered here: a
    database outage is a 503 with ``Retry-After``, anything else a 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            outage = is_outage(exc)
            if started:
                if outage:
                    log.info("database lost after answering: %s", type(exc).__name__)
                else:
                    log.exception("error after answering %s %s", scope["method"], scope["path"])
                return
            request = Request(scope)
            response = await render_unexpected(request, exc)
            await response(scope, receive, send)


async def render_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_outage(exc):
        log.warning("database unavailable: %s", type(exc).__name__)
        return outage_response(request)
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, InternalError())


def install(app: FastAPI) -> None:
    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return problem_response(request, exc)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        try:  # a caller the route is not for learns nothing about its input's shape
            await authorize_before_input(request)
        except DomainError as refused:
            return problem_response(request, refused)
        errors = _field_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(request, MalformedJson())
        return problem_response(
            request,
            ValidationFailed(
                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5]),
                extra={"errors": errors},
            ),
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        mapped: DomainError
        if exc.status_code == 400:
            # FastAPI's only 400: a JSON body it could not decode (not UTF-8, say). The app's
            # own errors are DomainErrors, so this one is the malformed-JSON problem.
            mapped = MalformedJson("The body is not UTF-8 JSON.")
            try:
                await authorize_before_input(request)
            except DomainError as refused:
                mapped = refused
        elif exc.status_code == 404:
            mapped = NotFound()
        elif exc.status_code == 405:
            mapped = MethodNotAllowed()
        else:
            mapped = DomainError(str(exc.detail))
            mapped.status = exc.status_code  # type: ignore[misc]
        return problem_response(request, mapped)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return await render_unexpected(request, exc)

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for exc_type in (
        OperationalError,
        InterfaceError,
        PoolTimeout,
        DBAPIError,
        OSError,
        asyncio.TimeoutError,
    ):
        app.add_exception_handler(exc_type, unexpected)
    app.add_exception_handler(Exception, unexpected)
    app.add_middleware(ProblemGuard)


def problem_catalogue() -> list[dict[str, Any]]:
    return [
        {
            "type": e.type_uri(),
            "title": e.title,
            "status": e.status,
            "retryable": e.retryable,
            "description": e.description,
        }
        for e in PROBLEM_TYPES
    ]

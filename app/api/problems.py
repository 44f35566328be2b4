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


def is_database_outage(exc: BaseException) -> bool:
    if isinstance(exc, PoolTimeout | OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OSError | asyncio.TimeoutError | ConnectionError)


def install(app: FastAPI) -> None:
    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return problem_response(request, exc)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
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
        if exc.status_code == 404:
            mapped = NotFound()
        elif exc.status_code == 405:
            mapped = MethodNotAllowed()
        else:
            mapped = DomainError(str(exc.detail))
            mapped.status = exc.status_code  # type: ignore[misc]
        return problem_response(request, mapped)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_database_outage(exc):
            request.app.state.context.metrics.database_unavailable.inc()
            log.warning("database unavailable: %s", type(exc).__name__)
            return problem_response(
                request,
                ServiceUnavailable(
                    "The database cannot be reached. Nothing was recorded; retry shortly.",
                    headers={"Retry-After": "2"},
                ),
            )
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(request, InternalError())

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

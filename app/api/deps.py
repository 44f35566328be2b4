"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Principal
from app.context import AppContext
from app.db import is_outage
from app.errors import Unauthenticated
from app.identity.principal import authenticate_bearer
from app.pagination import MAX_LIMIT, Cursor

log = logging.getLogger("sigap.api")


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request. Routes commit explicitly *before* building their response.

    The session is closed after the answer has gone out. If the database went away meanwhile,
    closing (a rollback on a dead connection) fails; that must not turn an answer already sent
    into an error, so an outage here is logged and the connection left for the pool to discard.
    """
    session = get_context(request).sessions()
    try:
        yield session
    finally:
        try:
            await session.close()
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.info("session closed on a lost database connection: %s", type(exc).__name__)


Context = Annotated[AppContext, Depends(get_context)]
Session = Annotated[AsyncSession, Depends(get_session)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "Send `Authorization: Bearer <credential>`.",
            headers={"WWW-Authenticate": 'Bearer realm="sigap"'},
        )
    return token.strip()


async def get_principal(request: Request, session: Session, context: Context) -> Principal:
    principal = await authenticate_bearer(
        session, token=bearer_token(request), signer=context.signer, now=context.clock.now()
    )
    if principal is None:
        raise Unauthenticated(
            "The credential is unknown, expired or revoked.",
            headers={"WWW-Authenticate": 'Bearer realm="sigap", error="invalid_token"'},
        )
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


class PageParams:
    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most 100")] = 50,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> None:
        self.limit = limit
        self.cursor = Cursor.decode(cursor)


Paging = Annotated[PageParams, Depends()]


def error_responses(*errors: type[Any]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the given DomainError classes (grouped by status)."""
    from app.errors import DomainError

    grouped: dict[int, list[type[DomainError]]] = {}
    for error in errors:
        grouped.setdefault(error.status, []).append(error)
    return {
        status: {
            "description": "; ".join(f"`{e.type_uri()}`: {e.title}" for e in group),
            "content": {
                "application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "example": {
                        "type": group[0].type_uri(),
                        "title": group[0].title,
                        "status": status,
                        "detail": group[0].description or group[0].title,
                        "retryable": group[0].retryable,
                    },
                }
            },
        }
        for status, group in sorted(grouped.items())
    }

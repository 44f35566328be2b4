"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Principal
from app.context import AppContext
from app.errors import Unauthenticated
from app.identity.principal import authenticate_bearer
from app.pagination import MAX_LIMIT, Cursor


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request. Routes commit explicitly *before* building their response."""
    async with get_context(request).sessions() as session:
        yield session


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

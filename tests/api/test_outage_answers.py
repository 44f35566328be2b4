"""What a database outage looks like to a client: 503 + Retry-After whatever layer raised it,
never a 500, and never an exception escaping to the server (which would drop the connection)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import Depends
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.context import AppContext
from app.db import is_outage
from app.main import create_app


class _Translated(Exception):
    """The shape SQLAlchemy's asyncpg adapter gives a server error: the driver's as cause."""


def _wrapped(driver_error: Exception) -> DBAPIError:
    adapted = _Translated(str(driver_error))
    adapted.__cause__ = driver_error
    return DBAPIError("SELECT 1", None, adapted)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.CrashShutdownError("crash of another server process"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),
        asyncpg.InterfaceError("connection is closed"),
        _wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection")),
        _wrapped(asyncpg.exceptions.QueryCanceledError("statement timeout")),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        PoolTimeout("QueuePool limit reached"),
    ],
    ids=type,
)
def test_these_mean_the_database_is_not_answering(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        KeyError("bug"),
        ValueError("bug"),
        IntegrityError("INSERT", None, Exception("duplicate key")),
        _wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key")),
        asyncpg.InterfaceError("the server expects 2 arguments, 1 was passed"),
    ],
    ids=type,
)
def test_these_are_bugs_or_conflicts_not_outages(error: Exception) -> None:
    assert not is_outage(error)


@pytest.fixture
async def faulty(context: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(context=context, run_loops=False)

    async def raise_cannot_connect() -> None:
        raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")

    async def raise_bug() -> None:
        raise KeyError("a bug")

    async def closing_fails() -> AsyncIterator[None]:
        yield
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    async def answered_then_lost() -> dict[str, str]:
        return {"status": "ok"}

    app.add_api_route("/test/cannot-connect", raise_cannot_connect)
    app.add_api_route("/test/bug", raise_bug)
    app.add_api_route(
        "/test/teardown", answered_then_lost, dependencies=[Depends(closing_fails)]
    )
    # The transport re-raises whatever escapes the app, as a server would log and disconnect.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://sigap.test") as client:
        yield client


async def test_an_unwrapped_driver_error_is_a_503_with_retry_after(
    faulty: httpx.AsyncClient,
) -> None:
    response = await faulty.get("/test/cannot-connect")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["type"] == "/problems/service-unavailable"


async def test_a_bug_is_a_500_problem_and_nothing_escapes(faulty: httpx.AsyncClient) -> None:
    response = await faulty.get("/test/bug")
    assert response.status_code == 500
    assert response.json()["type"] == "/problems/internal-error"


async def test_losing_the_database_after_answering_keeps_the_answer(
    faulty: httpx.AsyncClient,
) -> None:
    response = await faulty.get("/test/teardown")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}

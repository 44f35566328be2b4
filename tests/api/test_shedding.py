"""Under overload the routes that can wait are refused first; intake and responders never are."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute

from app.api.shedding import ROUTE_PRIORITIES, Priority, RouteTable
from app.context import AppContext
from app.main import build_context, create_app, start
from tests.conftest import make_settings
from tests.helpers import OPS, auth, press, press_body, register


def _routes(routes: list[BaseRoute]) -> Iterator[tuple[str, str]]:
    for route in routes:
        included = getattr(route, "original_router", None)  # an included APIRouter
        if included is not None:
            yield from _routes(included.routes)
            continue
        path = getattr(route, "path", None)
        methods = getattr(route, "methods", None)
        if path is None:
            continue
        for method in sorted(methods or {"WS"}):
            if method != "HEAD":
                yield method, path


def test_every_route_has_a_priority_and_the_table_names_only_real_routes(
    context: AppContext,
) -> None:
    app = create_app(context=context, run_loops=False)
    served = set(_routes(app.router.routes))
    assert served - set(ROUTE_PRIORITIES) == set(), "classify these in app/api/shedding.py"
    assert set(ROUTE_PRIORITIES) - served == set(), "these are not routes any more"


def test_the_press_the_stream_and_responders_actions_are_vital() -> None:
    table = RouteTable(ROUTE_PRIORITIES)
    for method, path in [
        ("POST", "/v1/alerts"),
        ("WS", "/v1/stream"),
        ("POST", "/v1/assignments/3f0c/accept"),
        ("POST", "/v1/assignments/3f0c/decline"),
        ("POST", "/v1/assignments/3f0c/heartbeat"),
        ("POST", "/v1/alerts/3f0c/progress"),
    ]:
        assert table.priority(method, path) is Priority.VITAL, (method, path)
    assert table.priority("GET", "/v1/reports/sla") is Priority.DEFERRABLE
    assert table.priority("HEAD", "/v1/alerts/3f0c") is Priority.STANDARD


def in_flight(context: AppContext) -> float:
    value = context.metrics.registry.get_sample_value("sigap_http_requests_in_flight")
    return value or 0.0


async def until(condition: Any, what: str) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never: {what}")


@pytest.fixture
async def one_connection(
    database_url: str, context: AppContext
) -> AsyncIterator[tuple[httpx.AsyncClient, AppContext]]:
    """An app with a pool of one connection, so the test can make it busy by holding it."""
    settings = make_settings(
        database_url, db={"pool_size": 1, "max_overflow": 0}, overload={"standard_factor": 2}
    )
    small = build_context(settings, clock=context.clock)
    await start(small)
    app: FastAPI = create_app(context=small, run_loops=False)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sigap.test") as client:
        yield client, small
    await small.engine.dispose()


async def test_with_every_connection_busy_reports_are_shed_and_presses_wait_their_turn(
    one_connection: tuple[httpx.AsyncClient, AppContext],
) -> None:
    client, context = one_connection
    _, first = await register(client)
    _, second = await register(client)

    async with context.engine.connect() as held:  # the only connection: now every request waits
        await held.exec_driver_sql("SELECT 1")
        waiting_press = asyncio.create_task(press(client, first, press_body(context)))
        await until(lambda: in_flight(context) == 1, "1 in flight")

        report = await client.get("/v1/reports/sla")
        assert report.status_code == 503
        assert report.json()["type"] == "/problems/overloaded"
        assert report.json()["retryable"] is True
        assert report.headers["retry-after"] == "5"

        # A saturated pool is a busy database, not a missing one: still ready.
        ready = await client.get("/readyz", headers=OPS)
        assert ready.status_code == 200
        assert ready.json()["database"] == "busy"

        # A responder's heartbeat is vital: it queues behind the press instead of being shed.
        heartbeat = asyncio.create_task(
            client.post(
                "/v1/assignments/00000000-0000-0000-0000-000000000000/heartbeat",
                headers=auth(first),  # checking the credential needs the database: it waits
            )
        )
        await until(lambda: in_flight(context) == 2, "2 in flight")
        # Beyond twice the pool (standard_factor) standard routes are shed too; presses never.
        second_press = asyncio.create_task(press(client, second, press_body(context)))
        await until(lambda: in_flight(context) == 3, "3 in flight")
        listing = await client.get("/v1/alerts")
        assert listing.status_code == 503
        assert listing.json()["type"] == "/problems/overloaded"
        assert not waiting_press.done() and not heartbeat.done() and not second_press.done()

    assert (await waiting_press).status_code == 201
    assert (await second_press).status_code == 201
    assert (await heartbeat).status_code in (403, 404)  # answered on its merits, not shed
    # The queue drained: nothing is shed any more.
    assert (await client.get("/v1/reports/sla")).status_code == 401
    shed = context.metrics.registry.get_sample_value
    assert shed("sigap_http_requests_shed_total", {"priority": "deferrable"}) == 1
    assert shed("sigap_http_requests_shed_total", {"priority": "standard"}) == 1

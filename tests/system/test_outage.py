"""A database outage answers 503 with Retry-After, quickly, and the service recovers by itself."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from app.clock import FrozenClock
from app.context import AppContext
from app.main import build_context, create_app, start
from loadtests.faults.proxy import FaultProxy
from tests.conftest import BACKEND, make_settings
from tests.helpers import press, press_body, register
from tests.realtime.live import live_server, stream

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql",
    reason="an outage of a database server needs a server: the embedded SQLite file cannot go away",
)


@pytest.fixture
async def through_proxy(
    database_url: str, clock: FrozenClock
) -> AsyncIterator[tuple[AppContext, FaultProxy]]:
    """A started context whose database is reached through a proxy the test can stop."""
    url = make_url(database_url)
    proxy = FaultProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    settings = make_settings(
        str(url.set(port=proxy.port)),
        db={"pool_size": 2, "max_overflow": 0, "pool_timeout_s": 2.0, "connect_timeout_s": 1.0},
    )
    context = build_context(settings, clock=clock)
    try:
        await start(context)
        yield context, proxy
    finally:
        await proxy.stop()
        await context.engine.dispose()


@pytest.fixture
async def proxied(
    through_proxy: tuple[AppContext, FaultProxy],
) -> AsyncIterator[tuple[httpx.AsyncClient, FaultProxy]]:
    context, proxy = through_proxy
    app = create_app(context=context, run_loops=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        yield client, proxy


async def test_outage_gives_quick_503_and_recovery_needs_no_restart(
    proxied: tuple[httpx.AsyncClient, FaultProxy], clock: FrozenClock
) -> None:
    client, proxy = proxied
    _, credential = await register(client)
    assert (await press(client, credential, press_body(clock))).status_code == 201

    await proxy.stop()
    started = time.monotonic()
    during = await press(client, credential, press_body(clock), key="during-outage")
    elapsed = time.monotonic() - started
    assert during.status_code == 503
    assert during.json()["type"] == "/problems/service-unavailable"
    assert during.json()["retryable"] is True
    assert during.headers["retry-after"] == "2"
    assert elapsed < 5
    assert (await client.get("/readyz")).status_code == 503
    assert (await client.get("/healthz")).status_code == 200

    await proxy.start()
    after = await press(client, credential, press_body(clock), key="during-outage")
    assert after.status_code == 200  # joins the alert recorded before the outage
    assert (await client.get("/readyz")).status_code == 200


async def test_a_socket_authenticating_during_an_outage_is_told_to_come_back(
    through_proxy: tuple[AppContext, FaultProxy],
) -> None:
    """The stream cannot answer with HTTP: an outage while it authenticates closes it with 1013
    ("try again later"), and the client reconnects and resumes once the database is back."""
    context, proxy = through_proxy
    async with live_server(context) as live:
        async with httpx.AsyncClient(base_url=live.base) as http:
            _, credential = await register(http)
        await proxy.stop()
        async with stream(live.base, credential, expect_ready=False) as ws:
            code, received = await ws.closed_with(wait_s=15)
        assert code == 1013 and received == []
        await proxy.start()
        async with stream(live.base, credential) as ws:
            assert ws.ready["type"] == "ready"

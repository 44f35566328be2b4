"""A worker that starts while the database is down waits for it instead of failing its startup
(uvicorn would take that for a broken deployment and stop every worker)."""

from __future__ import annotations

import asyncio

import pytest

from app.main import build_context, start
from app.realtime.hub import Hub
from tests.conftest import make_settings
from tests.pgcluster import free_port


async def test_startup_waits_for_a_database_that_does_not_answer_yet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/sigap"
    context = build_context(make_settings(url))
    try:
        with pytest.raises(TimeoutError):  # still waiting, not failed
            async with asyncio.timeout(1.5):
                await start(context)
    finally:
        await context.engine.dispose()
    assert "database not reachable at startup" in caplog.text


async def test_the_stream_hub_waits_for_the_database_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The hub's first read (head and epoch) is a startup step like the checks: an outage then
    must not fail the worker's startup either."""
    url = f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/sigap"
    context = build_context(make_settings(url))
    hub = Hub(context)
    try:
        with pytest.raises(TimeoutError):  # still waiting, not failed
            async with asyncio.timeout(1.5):
                await hub.start()
    finally:
        await context.engine.dispose()
    assert "database not reachable at startup" in caplog.text

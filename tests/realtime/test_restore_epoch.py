"""A restored backup changes the stream epoch: a client whose cursor is past the restored head
is told ``resync_required`` instead of silently skipping the events numbered again."""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from app.clock import FrozenClock
from app.context import AppContext
from app.events import emit
from app.main import build_context, start
from app.realtime.epoch import stream_epoch
from tests.conftest import BACKEND, create_pg_database, drop_pg_database, make_settings
from tests.helpers import staff_token
from tests.realtime.live import live_server, settle, stream

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql", reason="pg_dump/pg_restore: the PostgreSQL restore path"
)


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def add_events(context: AppContext, count: int) -> int:
    async with context.sessions() as session:
        for n in range(count):
            emit(session, "test.restore", at=context.clock.now(), data={"n": n})
        await session.commit()
    return await settle(context)


async def test_a_dump_restored_into_a_new_database_makes_a_client_past_its_head_resync(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock, tmp_path: Path
) -> None:
    token = await staff_token(client, context, "supervisor", "supervisor", "central")
    restored_head = await add_events(context, 3)
    dump = tmp_path / "sigap.dump"
    source = libpq(context.settings.database_url)
    await asyncio.to_thread(
        subprocess.run, ["pg_dump", "-Fc", "-f", str(dump), source], check=True, timeout=120
    )
    # The client reads on past the dump, then the database is lost and the dump restored.
    cursor = await add_events(context, 2)
    async with live_server(context) as live, stream(live.base, token, after=cursor) as ws:
        epoch = ws.ready["epoch"]
    assert cursor > restored_head

    target = await create_pg_database("sigap_restore")
    try:
        await asyncio.to_thread(
            subprocess.run,
            ["pg_restore", "--no-owner", "-d", libpq(target), str(dump)],
            check=True,
            timeout=120,
        )
        restored = build_context(make_settings(target), clock=clock)
        restored = replace(restored, loop_heartbeats={}, loop_errors={}, set_aside={})
        try:
            await start(restored)
            async with restored.sessions() as session:
                assert await stream_epoch(session) != epoch
            # New events in the restored database take the numbers the client already has.
            head = await add_events(restored, 4)
            assert head > cursor
            async with live_server(restored) as live:
                async with stream(live.base, token, after=cursor, epoch=epoch) as ws:
                    assert await ws.receive() == {"type": "resync_required", "head_seq": head}
                # A client of the restored database resumes normally.
                async with stream(live.base, token, after=head - 1, epoch=ws.ready["epoch"]) as ok:
                    [event] = await ok.events(1)
                    assert event["seq"] == head
        finally:
            await restored.engine.dispose()
    finally:
        await drop_pg_database(target)

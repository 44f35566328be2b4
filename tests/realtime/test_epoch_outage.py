"""A connection lost while the epoch is read is an outage, not a missing permission: the process
must wait for the database, never fall back to an epoch the other processes do not share."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.context import AppContext
from app.db import is_outage
from app.realtime.epoch import cluster_identity, stream_epoch
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql", reason="the epoch reads PostgreSQL's control data; SQLite has none"
)


async def test_a_connection_lost_during_the_epoch_read_is_an_outage_not_a_fallback(
    context: AppContext, database_url: str
) -> None:
    async with context.sessions() as healthy:
        expected = await stream_epoch(healthy)
    admin = await asyncpg.connect(str(make_url(database_url).set(drivername="postgresql")))
    try:
        async with context.sessions() as session:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await admin.execute("SELECT pg_terminate_backend($1)", pid)  # the server goes away
            gone = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1"
            while await admin.fetchval(gone, pid):  # noqa: ASYNC110 (another server's state)
                await asyncio.sleep(0.02)
            with pytest.raises(DBAPIError) as caught:
                await cluster_identity(session)
    finally:
        await admin.close()
    assert is_outage(caught.value), repr(caught.value)
    # The control-data read failed as it was, not papered over by the oid-only fallback.
    assert "SELECT 0, 0" not in str(caught.value.statement)
    async with context.sessions() as again:  # once it answers, the same epoch as before
        assert await stream_epoch(again) == expected

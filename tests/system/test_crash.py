"""A real server killed with SIGKILL mid-burst: every acknowledged alert is in the database, none
twice, and retrying the unanswered presses with their keys after a restart duplicates nothing."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import BACKEND, create_pg_database, drop_pg_database
from tests.system.server import free_port, start_server, stop_servers

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql", reason="crash tests run real server processes on PostgreSQL"
)
DEVICES = 120


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    url = await create_pg_database("sigap_crash")
    yield url
    await drop_pg_database(url)


async def test_sigkill_during_a_burst_loses_and_doubles_nothing(
    fresh_database: str, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    server = start_server(fresh_database, port=port, log=log)
    try:
        base = f"http://127.0.0.1:{port}"
        acknowledged: dict[str, dict[str, object]] = {}
        unanswered: list[tuple[str, str]] = []
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            credentials = []
            for _ in range(DEVICES):
                credentials.append((await http.post("/v1/devices", json={})).json()["credential"])
            keys = {c: uuid.uuid4().hex for c in credentials}
            third_acknowledged = asyncio.Event()

            async def one(credential: str) -> None:
                body = {
                    "pressed_at": "2026-11-23T03:00:00Z",
                    "location": {"lat": -6.2, "lon": 106.8, "accuracy_m": 30},
                }
                try:
                    response = await http.post(
                        "/v1/alerts",
                        json=body,
                        headers={
                            "Authorization": f"Bearer {credential}",
                            "Idempotency-Key": keys[credential],
                        },
                    )
                except httpx.TransportError:
                    unanswered.append((credential, keys[credential]))
                    return
                if response.status_code in (200, 201):
                    acknowledged[credential] = response.json()
                    if len(acknowledged) >= DEVICES // 3:
                        third_acknowledged.set()
                else:
                    unanswered.append((credential, keys[credential]))

            async def killer() -> None:
                await third_acknowledged.wait()
                server.send_signal(signal.SIGKILL)

            await asyncio.gather(killer(), *(one(c) for c in credentials))
        server.wait(timeout=10)
    finally:
        stop_servers(server)  # killed by then, unless the test failed first
    assert acknowledged, "nothing was acknowledged before the kill"
    assert unanswered, "the kill came too late to interrupt anything"

    connection = await asyncpg.connect(str(make_url(fresh_database).set(drivername="postgresql")))
    try:
        rows = await connection.fetch("SELECT id::text AS id, device_id FROM alert")
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids))
        assert {str(a["id"]) for a in acknowledged.values()} <= set(ids)  # lost = 0
        per_device = await connection.fetchval(
            "SELECT max(c) FROM (SELECT count(*) c FROM alert GROUP BY device_id) x"
        )
        assert per_device == 1  # doubled = 0
        events = await connection.fetchval(
            "SELECT count(*) FROM outbox_event WHERE event_type = 'alert.received'"
        )
        assert events == len(ids)
    finally:
        await connection.close()

    # The phones retry what went unanswered, with the same keys, against a restarted server.
    server = start_server(fresh_database, port=port, log=log)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            for credential, key in unanswered:
                body = {
                    "pressed_at": "2026-11-23T03:00:00Z",
                    "location": {"lat": -6.2, "lon": 106.8, "accuracy_m": 30},
                }
                response = await http.post(
                    "/v1/alerts",
                    json=body,
                    headers={"Authorization": f"Bearer {credential}", "Idempotency-Key": key},
                )
                assert response.status_code in (200, 201), response.text
            for credential, before in acknowledged.items():
                body = {
                    "pressed_at": "2026-11-23T03:00:00Z",
                    "location": {"lat": -6.2, "lon": 106.8, "accuracy_m": 30},
                }
                replay = await http.post(
                    "/v1/alerts",
                    json=body,
                    headers={
                        "Authorization": f"Bearer {credential}",
                        "Idempotency-Key": keys[credential],
                    },
                )
                assert replay.json() == before
    finally:
        stop_servers(server)
    connection = await asyncpg.connect(str(make_url(fresh_database).set(drivername="postgresql")))
    try:
        assert await connection.fetchval("SELECT count(*) FROM alert") == DEVICES
    finally:
        await connection.close()

"""Three real server processes, each with its own dispatcher, share one PostgreSQL: six hundred
alerts are each routed exactly once, even when one process is killed with SIGKILL mid-run."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from app.security.credentials import DEVICE_PREFIX, digest, new_secret
from tests.conftest import BACKEND, create_pg_database, drop_pg_database
from tests.system.server import free_port, start_server, stop_servers

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql",
    reason="several dispatcher processes coordinate through PostgreSQL; SQLite allows one",
)
ALERTS = 600  # enough for the kill to land mid-run with work queued on every process
POLL_S = 0.2
DISPATCH_ENV = {
    "SIGAP_DISPATCH__POLL_INTERVAL_S": str(POLL_S),
    "SIGAP_DB__IDLE_TRANSACTION_TIMEOUT_S": "5",
    "SIGAP_DB__POOL_SIZE": "3",
    "SIGAP_DB__MAX_OVERFLOW": "2",
}


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    url = await create_pg_database("sigap_scaleout")
    yield url
    await drop_pg_database(url)


def raw_url(url: str) -> str:
    return str(make_url(url).set(drivername="postgresql"))


async def seed_devices(url: str, count: int) -> list[str]:
    """Device rows written directly: registering hundreds of phones over HTTP is not the test."""
    credentials = [new_secret(DEVICE_PREFIX) for _ in range(count)]
    now = datetime.now(UTC)
    connection = await asyncpg.connect(raw_url(url))
    try:
        await connection.copy_records_to_table(
            "device",
            records=[(uuid.uuid4(), digest(c), now, 0) for c in credentials],
            columns=["id", "credential_hash", "created_at", "pin_failures"],
        )
    finally:
        await connection.close()
    return credentials


async def test_three_dispatchers_route_each_alert_once_and_survive_a_kill(
    fresh_database: str, tmp_path: Path
) -> None:
    ports = [free_port() for _ in range(3)]
    servers: list[subprocess.Popen[bytes]] = []
    try:
        for i, port in enumerate(ports):
            log = tmp_path / f"server{i}.log"
            servers.append(start_server(fresh_database, port=port, log=log, env=DISPATCH_ENV))
        credentials = await seed_devices(fresh_database, ALERTS)
        rng = random.Random(7)
        acknowledged: set[str] = set()
        killed = asyncio.Event()
        third_acknowledged = asyncio.Event()
        gate = asyncio.Semaphore(24)

        async def one(index: int, credential: str, http: httpx.AsyncClient) -> None:
            key = uuid.uuid4().hex
            body = {
                "pressed_at": datetime.now(UTC).isoformat(),
                "location": {
                    "lat": rng.uniform(-6.33, -6.12),
                    "lon": rng.uniform(106.72, 106.95),
                    "accuracy_m": 20,
                },
            }
            headers = {"Authorization": f"Bearer {credential}", "Idempotency-Key": key}
            order = [ports[index % 3], ports[(index + 1) % 3]]
            async with gate:
                for attempt in range(6):
                    port = order[attempt % 2]
                    if killed.is_set() and port == ports[2]:
                        continue
                    try:
                        response = await http.post(
                            f"http://127.0.0.1:{port}/v1/alerts", json=body, headers=headers
                        )
                    except httpx.TransportError:
                        continue  # the phone retries, with the same key, elsewhere
                    if response.status_code in (200, 201):
                        acknowledged.add(response.json()["id"])
                        if len(acknowledged) >= ALERTS // 3:
                            third_acknowledged.set()
                        return
            raise AssertionError(f"press {index} was never acknowledged")

        async def killer() -> None:
            await third_acknowledged.wait()
            servers[2].send_signal(signal.SIGKILL)
            killed.set()

        async with httpx.AsyncClient(timeout=10) as http:
            await asyncio.gather(killer(), *(one(i, c, http) for i, c in enumerate(credentials)))
        assert len(acknowledged) == ALERTS

        connection = await asyncpg.connect(raw_url(fresh_database))
        try:
            # The two survivors work off the backlog (a killed process's in-flight task is
            # released at once: its connection dropped); the bound is for a slow CI machine.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                pending = await connection.fetchval(
                    "SELECT count(*) FROM dispatch_task WHERE kind = 'route'"
                )
                if pending == 0:
                    break
                await asyncio.sleep(0.2)
            assert pending == 0, f"{pending} alerts not routed after the kill"

            first_decisions = await connection.fetchval(
                "SELECT count(*) FROM routing_decision WHERE step = 0"
            )
            assert first_decisions == ALERTS
            routed_events = await connection.fetch(
                "SELECT alert_id, count(*) AS n FROM outbox_event "
                "WHERE event_type = 'alert.routed' GROUP BY alert_id"
            )
            assert len(routed_events) == ALERTS
            assert {r["n"] for r in routed_events} == {1}  # no step taken twice
            transfers = await connection.fetchval(
                "SELECT count(*) FROM outbox_event WHERE event_type = 'alert.transferred'"
            )
            assert transfers == ALERTS  # nobody on duty: each handed off to 112, once
            offers = await connection.fetchval("SELECT count(*) FROM assignment")
            offered_events = await connection.fetchval(
                "SELECT count(*) FROM outbox_event WHERE event_type = 'assignment.offered'"
            )
            assert offers == offered_events == ALERTS
            states = await connection.fetch("SELECT state, count(*) AS n FROM alert GROUP BY 1")
            assert {r["state"]: r["n"] for r in states} == {"routed": ALERTS}
        finally:
            await connection.close()
    finally:
        stop_servers(*servers)

"""Two real server processes on one PostgreSQL: alerts pressed on process A reach a supervisor's
socket on process B, and killing the LISTEN connections mid-stream loses nothing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect

from app.realtime.broker import LISTENER_NAME
from tests.conftest import BACKEND, create_pg_database, drop_pg_database
from tests.system.server import REPO, free_port, server_env, start_server, stop_servers

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql",
    reason="several server processes share one stream through PostgreSQL; SQLite allows one",
)
ALERTS = 40
ENV = {"SIGAP_DB__POOL_SIZE": "3", "SIGAP_DB__MAX_OVERFLOW": "2"}
PASSWORD = "a long enough password for the test"


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    url = await create_pg_database("sigap_stream")
    yield url
    await drop_pg_database(url)


def create_supervisor(database_url: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "user",
            "create",
            "supervisor",
            "--role",
            "supervisor",
            "--unit",
            "central",
        ],
        cwd=REPO,
        env={**server_env(database_url), **ENV},
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
    )


async def listeners(database_url: str) -> int:
    connection = await asyncpg.connect(str(make_url(database_url).set(drivername="postgresql")))
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = $1 AND datname = current_database()",
                LISTENER_NAME,
            )
        )
    finally:
        await connection.close()


async def kill_listeners(database_url: str) -> int:
    connection = await asyncpg.connect(str(make_url(database_url).set(drivername="postgresql")))
    try:
        return int(
            await connection.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = $1 AND datname = current_database()",
                LISTENER_NAME,
            )
        )
    finally:
        await connection.close()


async def test_alerts_on_one_process_reach_a_socket_on_another_despite_listener_kills(
    fresh_database: str, tmp_path: Path
) -> None:
    port_a, port_b = free_port(), free_port()
    servers: list[subprocess.Popen[bytes]] = []
    try:
        servers.append(start_server(fresh_database, port=port_a, log=tmp_path / "a.log", env=ENV))
        servers.append(start_server(fresh_database, port=port_b, log=tmp_path / "b.log", env=ENV))
        create_supervisor(fresh_database)
        async with httpx.AsyncClient(timeout=10) as http:
            token = (
                await http.post(
                    f"http://127.0.0.1:{port_b}/v1/auth/token",
                    data={"grant_type": "password", "username": "supervisor", "password": PASSWORD},
                )
            ).json()["access_token"]
            async with connect(f"ws://127.0.0.1:{port_b}/v1/stream") as ws:
                await ws.send(json.dumps({"type": "auth", "token": token}))
                ready = json.loads(await ws.recv())
                assert ready["type"] == "ready"
                received: list[dict[str, object]] = []

                async def listen() -> None:
                    while True:
                        message = json.loads(await ws.recv())
                        if message["type"] == "event":
                            received.append(message)

                listener = asyncio.create_task(listen())
                for n in range(ALERTS):
                    credential = (
                        await http.post(f"http://127.0.0.1:{port_a}/v1/devices", json={})
                    ).json()["credential"]
                    response = await http.post(
                        f"http://127.0.0.1:{port_a}/v1/alerts",
                        json={
                            "pressed_at": "2026-12-01T03:00:00Z",
                            "location": {"lat": -6.2, "lon": 106.8, "accuracy_m": 20},
                        },
                        headers={
                            "Authorization": f"Bearer {credential}",
                            "Idempotency-Key": uuid.uuid4().hex,
                        },
                    )
                    assert response.status_code == 201
                    if n in (ALERTS // 4, ALERTS // 2):
                        # Each process replaces a dead listener within a heartbeat (5 s).
                        for _ in range(100):
                            if await listeners(fresh_database) == 2:
                                break
                            await asyncio.sleep(0.1)
                        assert await kill_listeners(fresh_database) == 2
                    await asyncio.sleep(0.05)

                connection = await asyncpg.connect(
                    str(make_url(fresh_database).set(drivername="postgresql"))
                )
                try:
                    for _ in range(200):  # routing, relay and delivery settle within seconds
                        head = await connection.fetchval("SELECT last_seq FROM stream_state")
                        pending = await connection.fetchval(
                            "SELECT count(*) FROM outbox_event WHERE seq IS NULL"
                        )
                        # Routing may still be running when the events so far are delivered.
                        routing = await connection.fetchval(
                            "SELECT count(*) FROM dispatch_task WHERE kind = 'route'"
                        )
                        settled = pending == 0 and routing == 0
                        if settled and received and received[-1]["seq"] >= head:
                            break
                        await asyncio.sleep(0.1)
                    else:
                        pytest.fail(f"not settled: head {head}, last received {received[-1:]}")
                    # Up to that head only: the servers run on the real clock, so an SLA timer
                    # may add events after it on a slow machine.
                    stored = await connection.fetch(
                        "SELECT seq, event_type FROM outbox_event"
                        " WHERE seq > $1 AND seq <= $2 ORDER BY seq",
                        ready["head_seq"],
                        head,
                    )
                finally:
                    await connection.close()
                listener.cancel()
    finally:
        stop_servers(*servers)

    # The supervisor sees everything, so the socket's sequence has no gap, no repeat.
    assert [(m["seq"], m["event"]) for m in received if m["seq"] <= head] == [
        (r["seq"], r["event_type"]) for r in stored
    ]
    assert sum(m["event"] == "alert.received" for m in received) == ALERTS
    assert sum(m["event"] == "alert.routed" for m in received) == ALERTS

"""Process roles on PostgreSQL: an ``intake`` process takes presses and serves sockets with no
work loop; a ``worker`` process routes and numbers events and serves only health and metrics.

A press on the intake is recorded while no worker runs (intake does not depend on one), is
routed once a worker starts, and a supervisor's socket on the intake gets both events.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect

from app.cli import main
from app.main import RoleRefused, check_role, create_app
from tests.conftest import BACKEND, create_pg_database, drop_pg_database, make_settings
from tests.system.server import OPS, free_port, start_server, stop_servers
from tests.system.test_stream_scaleout import PASSWORD, create_supervisor

postgresql_only = pytest.mark.skipif(
    BACKEND != "postgresql",
    reason="roles split one deployment into processes that meet in PostgreSQL; SQLite is one",
)
ENV = {"SIGAP_DB__POOL_SIZE": "3", "SIGAP_DB__MAX_OVERFLOW": "1"}
WORK_LOOPS = {"dispatcher", "relay", "sla-monitor", "notifier", "housekeeping"}


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    url = await create_pg_database("sigap_roles")
    yield url
    await drop_pg_database(url)


@postgresql_only
async def test_a_press_on_intake_is_routed_by_the_worker_and_reaches_a_socket_on_intake(
    fresh_database: str, tmp_path: Path
) -> None:
    intake_port, worker_port = free_port(), free_port()
    intake = start_server(
        fresh_database,
        port=intake_port,
        log=tmp_path / "intake.log",
        env={**ENV, "SIGAP_ROLE": "intake"},
    )
    servers = [intake]
    try:
        create_supervisor(fresh_database)
        base = f"http://127.0.0.1:{intake_port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            intake_loops = set((await http.get("/readyz", headers=OPS)).json()["loops"])
            assert intake_loops & WORK_LOOPS == set()
            token = (
                await http.post(
                    "/v1/auth/token",
                    data={"grant_type": "password", "username": "supervisor", "password": PASSWORD},
                )
            ).json()["access_token"]
            async with connect(f"ws://127.0.0.1:{intake_port}/v1/stream") as ws:
                await ws.send(json.dumps({"type": "auth", "token": token}))
                assert json.loads(await ws.recv())["type"] == "ready"

                credential = (await http.post("/v1/devices", json={})).json()["credential"]
                pressed = await http.post(
                    "/v1/alerts",
                    json={
                        "pressed_at": "2026-12-01T03:00:00Z",
                        "location": {"lat": -6.2436, "lon": 106.8013, "accuracy_m": 20},
                    },
                    headers={
                        "Authorization": f"Bearer {credential}",
                        "Idempotency-Key": uuid.uuid4().hex,
                    },
                )
                assert pressed.status_code == 201  # recorded with no worker anywhere
                alert_id = pressed.json()["id"]

                # In a thread: the socket above must keep answering the server's pings while
                # the worker starts, however long that takes on a busy machine.
                worker = await asyncio.to_thread(
                    start_server,
                    fresh_database,
                    port=worker_port,
                    log=tmp_path / "worker.log",
                    env={**ENV, "SIGAP_ROLE": "worker"},
                )
                servers.append(worker)
                events: list[str] = []
                async with asyncio.timeout(30):
                    while "alert.routed" not in events:
                        message = json.loads(await ws.recv())
                        if message["type"] == "event":
                            assert message["data"]["alert_id"] == alert_id
                            events.append(message["event"])
                assert events[0] == "alert.received"

        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{worker_port}", timeout=10
        ) as http:
            ready = (await http.get("/readyz", headers=OPS)).json()
            assert {"dispatcher", "relay", "sla-monitor"} <= set(ready["loops"])
            assert (await http.get("/metrics", headers=OPS)).status_code == 200
            assert (await http.get("/metrics")).status_code == 401
            assert (await http.get("/healthz")).status_code == 200
            # The worker answers no API request: they belong to intake processes.
            assert (await http.post("/v1/devices", json={})).status_code == 404
            assert (await http.get("/openapi.json")).status_code == 404
    finally:
        stop_servers(*servers)

    connection = await asyncpg.connect(str(make_url(fresh_database).set(drivername="postgresql")))
    try:
        decisions = await connection.fetchval("SELECT count(*) FROM routing_decision")
    finally:
        await connection.close()
    assert decisions == 1


def test_sqlite_refuses_roles_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = f"sqlite:///{tmp_path / 'one.db'}"
    monkeypatch.setenv("SIGAP_DATABASE_URL", database)
    monkeypatch.setenv("SIGAP_DEV", "1")
    monkeypatch.setenv("SIGAP_ROLE", "all")
    settings = make_settings(database, role="intake")
    with pytest.raises(RoleRefused, match="needs PostgreSQL"):
        check_role(settings)
    with pytest.raises(RoleRefused):
        create_app(settings)
    assert main(["serve", "--role", "worker"]) == 2
    assert not (tmp_path / "one.db").exists()  # refused before touching the database

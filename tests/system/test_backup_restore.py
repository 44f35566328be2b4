"""The SQLite restore drill: back up a live server while presses arrive, restore the copy into a
new directory, serve it, and find every alert acknowledged before the backup began; a stream
client that resumes with its old epoch is told to resync instead of silently skipping events.

SQLite only: `sigap backup` copies the SQLite file; PostgreSQL is backed up with its own tools
(docs/deploy.md section 4), and the command refuses it (tested below on either database).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.conftest import BACKEND
from tests.system.server import REPO, free_port, server_env, start_server, stop_servers
from tests.system.test_stream_scaleout import PASSWORD, create_supervisor

sqlite_only = pytest.mark.skipif(
    BACKEND != "sqlite", reason="the online copy is SQLite's; PostgreSQL has pg_basebackup"
)


def sigap(database_url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *argv],
        cwd=REPO,
        env=server_env(database_url),
        text=True,
        capture_output=True,
        timeout=120,
    )


async def press(http: httpx.AsyncClient) -> str:
    credential = (await http.post("/v1/devices", json={})).json()["credential"]
    answer = await http.post(
        "/v1/alerts",
        json={
            "pressed_at": "2026-12-01T03:00:00Z",
            "location": {"lat": -6.2436, "lon": 106.8013, "accuracy_m": 20},
        },
        headers={"Authorization": f"Bearer {credential}", "Idempotency-Key": uuid.uuid4().hex},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def sign_in(http: httpx.AsyncClient) -> str:
    answer = await http.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "supervisor", "password": PASSWORD},
    )
    return str(answer.json()["access_token"])


@sqlite_only
async def test_a_backup_taken_while_presses_arrive_restores_every_acknowledged_alert(
    tmp_path: Path,
) -> None:
    live_url = f"sqlite:///{tmp_path / 'live' / 'sigap.db'}"
    (tmp_path / "live").mkdir()
    backup = tmp_path / "copies" / "sigap-backup.db"
    port = free_port()
    server = start_server(live_url, port=port, log=tmp_path / "live.log")
    try:
        create_supervisor(live_url)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            before = [await press(http) for _ in range(5)]

            # Presses keep arriving while the copy is taken: it must finish and be consistent.
            stop = asyncio.Event()
            during: list[str] = []

            async def keep_pressing() -> None:
                while not stop.is_set():
                    during.append(await press(http))

            presser = asyncio.create_task(keep_pressing())
            await asyncio.sleep(0)
            copied = await asyncio.to_thread(sigap, live_url, "backup", str(backup))
            stop.set()
            await presser
            assert copied.returncode == 0, copied.stderr
            assert "integrity checked" in copied.stdout
            assert "keys" in copied.stdout  # the reminder: a copy is useless without its keys

            # A backup never overwrites.
            again = await asyncio.to_thread(sigap, live_url, "backup", str(backup))
            assert again.returncode == 2 and "never overwrites" in again.stderr

            token = await sign_in(http)
            async with connect(f"ws://127.0.0.1:{port}/v1/stream") as ws:
                await ws.send(json.dumps({"type": "auth", "token": token}))
                ready = json.loads(await ws.recv())
        assert ready["type"] == "ready" and ready["head_seq"] > 0
    finally:
        stop_servers(server)

    restored_url = f"sqlite:///{tmp_path / 'restored' / 'sigap.db'}"
    put_back = await asyncio.to_thread(sigap, restored_url, "restore", str(backup))
    assert put_back.returncode == 0, put_back.stderr
    assert "every console and phone resynchronises" in put_back.stdout
    # Restoring over an existing database needs --replace (the server must be stopped first).
    over = await asyncio.to_thread(sigap, restored_url, "restore", str(backup))
    assert over.returncode == 2 and "--replace" in over.stderr

    port = free_port()
    server = start_server(restored_url, port=port, log=tmp_path / "restored.log")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            token = await sign_in(http)
            auth = {"Authorization": f"Bearer {token}"}
            for alert_id in before:
                read = await http.get(f"/v1/alerts/{alert_id}", headers=auth)
                assert read.status_code == 200, alert_id
            async with connect(f"ws://127.0.0.1:{port}/v1/stream") as ws:
                await ws.send(json.dumps({
                    "type": "auth", "token": token,
                    "after": ready["head_seq"], "epoch": ready["epoch"],
                }))
                answer = json.loads(await ws.recv())
                assert answer["type"] == "ready" and answer["epoch"] != ready["epoch"]
                assert json.loads(await ws.recv())["type"] == "resync_required"
    finally:
        stop_servers(server)

    with contextlib.closing(sqlite3.connect(tmp_path / "restored" / "sigap.db")) as db:
        rows = db.execute(
            "SELECT actor_id, detail FROM audit_entry WHERE action = 'database.restored'"
        ).fetchall()
    assert [row[0] for row in rows] == [f"cli:{getpass.getuser()}"]
    assert json.loads(rows[0][1])["file"] == "sigap-backup.db"

    # The audit trail: the restore left a "restored from backup" checkpoint beside the restored
    # file, and verify, given the live server's checkpoints and the restored one's, takes the
    # batches the copy lacks as given up, not cut.
    checked = await asyncio.to_thread(
        sigap, restored_url, "audit", "verify",
        "--checkpoints", str(tmp_path / "live" / "audit-checkpoints.jsonl"),
        "--checkpoints", str(tmp_path / "restored" / "audit-checkpoints.jsonl"),
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert len(json.loads(checked.stdout)["restores"]) == 1


async def test_backup_refuses_postgresql_and_names_its_tools(tmp_path: Path) -> None:
    refused = await asyncio.to_thread(
        sigap, "postgresql://nobody@127.0.0.1:1/none", "backup", str(tmp_path / "x.db")
    )
    assert refused.returncode == 2
    assert "pg_basebackup" in refused.stderr
    assert not (tmp_path / "x.db").exists()

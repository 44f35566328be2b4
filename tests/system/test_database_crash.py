"""PostgreSQL crashes (``pg_ctl stop -m immediate``) in the middle of a burst of presses.

Every press the server could not record must be refused cleanly (503 with ``Retry-After``: the
phone retries), never a 500, a reset connection or a hang; once the database is back the retried
presses succeed by themselves, and nothing is lost or doubled. The database is a private cluster
(tests/pgcluster.py): the shared server must never be crashed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from app.ingestion.press import key_digest
from tests.pgcluster import PgCluster
from tests.system.server import free_port, start_server, stop_servers

DEVICES = 60
STAGGER_S = 0.05  # presses start over 3 s, so some land before, during and after the crash
DOWN_S = 2.0
GIVE_UP_S = 25.0


@dataclass
class History:
    acknowledged: dict[str, str] = field(default_factory=dict)  # idempotency key -> alert id
    answers: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    refused_keys: set[str] = field(default_factory=set)
    refusal_s: list[float] = field(default_factory=list)  # printed, never asserted
    restarted_at: float | None = None
    first_ok_after_restart: float | None = None


async def test_a_crash_mid_burst_is_refused_cleanly_and_loses_or_doubles_nothing(
    private_cluster: PgCluster, tmp_path: Path
) -> None:
    database_url = private_cluster.create_database("sigap_crash")
    port = free_port()
    server = start_server(database_url, port=port, log=tmp_path / "server.log")
    history = History()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=15) as http:
            credentials = [
                (await http.post("/v1/devices", json={})).json()["credential"]
                for _ in range(DEVICES)
            ]
            first_acknowledged = asyncio.Event()

            async def phone(index: int, credential: str) -> None:
                await asyncio.sleep(index * STAGGER_S)
                key = uuid.uuid4().hex
                body = {
                    "pressed_at": "2026-11-23T03:00:00Z",
                    "location": {"lat": -6.2436, "lon": 106.8013, "accuracy_m": 20},
                }
                headers = {"Authorization": f"Bearer {credential}", "Idempotency-Key": key}
                deadline = asyncio.get_running_loop().time() + GIVE_UP_S
                while asyncio.get_running_loop().time() < deadline:
                    sent = asyncio.get_running_loop().time()
                    try:
                        response = await http.post("/v1/alerts", json=body, headers=headers)
                    except httpx.TransportError as exc:  # a reset or a hang: never acceptable
                        history.wrong.append(f"{type(exc).__name__}")
                        history.answers["transport error"] += 1
                        await asyncio.sleep(0.2)
                        continue
                    history.answers[str(response.status_code)] += 1
                    if response.status_code in (200, 201):
                        now = asyncio.get_running_loop().time()
                        if history.restarted_at is not None and (
                            history.first_ok_after_restart is None
                        ):
                            history.first_ok_after_restart = now - history.restarted_at
                        history.acknowledged[key] = response.json()["id"]
                        first_acknowledged.set()
                        return
                    if response.status_code == 503:
                        problem = response.json()
                        if (
                            "retry-after" not in response.headers
                            or problem.get("retryable") is not True
                        ):
                            history.wrong.append(f"503 without Retry-After: {problem}")
                        history.refused_keys.add(key)
                        history.refusal_s.append(asyncio.get_running_loop().time() - sent)
                    else:
                        history.wrong.append(f"{response.status_code}: {response.text[:200]}")
                    await asyncio.sleep(0.2)  # the app's retry, shortened to keep the test fast
                history.wrong.append(f"gave up on {key}")

            async def nemesis() -> None:
                await first_acknowledged.wait()
                await asyncio.sleep(0.3)
                await asyncio.to_thread(private_cluster.crash)
                await asyncio.sleep(DOWN_S)
                await asyncio.to_thread(private_cluster.start)
                history.restarted_at = asyncio.get_running_loop().time()

            await asyncio.gather(nemesis(), *(phone(i, c) for i, c in enumerate(credentials)))
    finally:
        stop_servers(server)

    slowest = max(history.refusal_s, default=0.0)
    print(
        f"answers {dict(history.answers)}; slowest 503 took {slowest:.2f} s; first press "
        f"recorded {history.first_ok_after_restart or 0:.2f} s after PostgreSQL was back"
    )
    assert history.wrong == [], f"{history.answers}: {history.wrong[:5]}"
    assert history.refused_keys, f"the crash refused nothing: {history.answers}"
    assert len(history.acknowledged) == DEVICES  # every phone got through after the recovery
    assert history.refused_keys <= set(history.acknowledged)

    connection = await asyncpg.connect(str(make_url(database_url).set(drivername="postgresql")))
    try:
        alerts = await connection.fetch("SELECT id::text AS id, device_id FROM alert")
        keys = await connection.fetch(
            "SELECT key_hash, alert_id::text AS id FROM idempotency_record"
        )
        received = await connection.fetchval(
            "SELECT count(*) FROM outbox_event WHERE event_type = 'alert.received'"
        )
    finally:
        await connection.close()
    ids = [row["id"] for row in alerts]
    assert sorted(ids) == sorted(history.acknowledged.values())  # none lost, none extra
    assert len({row["device_id"] for row in alerts}) == DEVICES  # none doubled
    recorded = {row["key_hash"]: row["id"] for row in keys}  # each key once, to its own alert
    assert recorded == {key_digest(k): v for k, v in history.acknowledged.items()}
    assert received == DEVICES

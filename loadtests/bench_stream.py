"""Stream benchmark on PostgreSQL: press -> offer on a counselor's socket, and idle socket memory.

1. End to end: two Sigap server processes on a throw-away database, every post staffed by a
   counselor whose console is connected to one of the two processes. Presses go open-loop to
   both processes at ``--rate``; for each alert, the time from the moment its press was due to
   the moment ``assignment.offered`` for it arrived on a counselor's socket. p50/p99, and how many
   never arrived (must be 0).
2. Memory: one server process; RSS before and after ``--sockets`` idle authenticated device
   sockets; the difference per socket.
3. Fan-out (``--fanout``): one server process, ``--fanout`` supervisor sockets (each may see
   every event), a burst of ``--burst`` presses at ``--rate``. How long after the burst's last
   answer every socket holds the stream's head, and the server's CPU for the whole run: what
   a supervisors' room costs the hub when a burst comes in.

    .venv/bin/python loadtests/bench_stream.py                   # 50/s for 20 s, 5,000 sockets
    .venv/bin/python loadtests/bench_stream.py --rate 50 --seconds 10 --sockets 1000
    .venv/bin/python loadtests/bench_stream.py --skip-e2e --skip-memory --fanout 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchdb
import openloop
import procstat
import servers
from bench_intake import build_presses, connection_limit

from app.config import SecuritySettings
from app.security.hashing import SecretHasher

PASSWORD = "bench password, long enough"
ENV = {"SIGAP_REALTIME__PRESENCE_REQUIRED": "false", "SIGAP_DISPATCH__POLL_INTERVAL_S": "0.5"}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def staff_posts(url: str) -> list[str]:
    """A counselor with a password and a shift for every post and the central desk (rows
    written directly), so every alert's first offer reaches a counselor's socket."""
    hashed = SecretHasher(SecuritySettings()).hash_blocking(PASSWORD)
    connection = await asyncpg.connect(url)
    try:
        # Open around the clock, so the figures do not depend on the hour the benchmark runs.
        await connection.execute(
            "UPDATE unit SET hours = $1::jsonb, updated_at = now() WHERE kind = 'post'",
            json.dumps({"always_open": True, "closed_on_holidays": False, "weekly": {}}),
        )
        posts = await connection.fetch(
            "SELECT id, code FROM unit WHERE kind IN ('post', 'central_desk')"
        )
        now = datetime.now(UTC)
        staff = [
            (uuid.uuid4(), f"bench.{p['code']}", hashed, "counselor", p["id"], now) for p in posts
        ]
        await connection.copy_records_to_table(
            "staff_user",
            records=staff,
            columns=["id", "username", "password_hash", "role", "unit_id", "created_at"],
        )
        await connection.copy_records_to_table(
            "shift",
            records=[
                (uuid.uuid4(), s[4], s[0], now - timedelta(hours=1), now + timedelta(days=1), now)
                for s in staff
            ],
            columns=["id", "unit_id", "staff_id", "starts_at", "ends_at", "created_at"],
        )
    finally:
        await connection.close()
    return [s[1] for s in staff]


async def supervisors(url: str, count: int) -> list[str]:
    """``count`` supervisors at the central desk (rows written directly)."""
    hashed = SecretHasher(SecuritySettings()).hash_blocking(PASSWORD)
    connection = await asyncpg.connect(url)
    try:
        desk = await connection.fetchval("SELECT id FROM unit WHERE kind = 'central_desk'")
        now = datetime.now(UTC)
        staff = [
            (uuid.uuid4(), f"bench.supervisor.{i}", hashed, "supervisor", desk, now)
            for i in range(count)
        ]
        await connection.copy_records_to_table(
            "staff_user",
            records=staff,
            columns=["id", "username", "password_hash", "role", "unit_id", "created_at"],
        )
    finally:
        await connection.close()
    return [s[1] for s in staff]


async def bench_fanout(options: argparse.Namespace) -> int:
    name = await benchdb.create_database(options.pg_admin_url)
    db_url = benchdb.database_url(options.pg_admin_url, name)
    workdir = Path(tempfile.mkdtemp(prefix="sigap-stream-fanout-"))
    spec = servers.sigap_spec(db_url=db_url, workers=1, pool_size=6, max_overflow=4)
    spec.env.update(ENV)
    server = servers.launch(spec, workdir)
    sockets: list[ClientConnection] = []
    listeners: list[asyncio.Task[None]] = []
    try:
        await servers.wait_ready(server, 90)
        await staff_posts(db_url)  # every post staffed: each press is routed and offered
        usernames = await supervisors(db_url, options.fanout)
        base = f"http://127.0.0.1:{spec.port}"
        async with httpx.AsyncClient(timeout=30) as http:
            tokens = []
            for username in usernames:
                response = await http.post(
                    f"{base}/v1/auth/token",
                    data={"grant_type": "password", "username": username, "password": PASSWORD},
                )
                tokens.append(response.json()["access_token"])
        url = f"ws://127.0.0.1:{spec.port}/v1/stream"
        sockets = [await authenticated(url, token) for token in tokens]
        last_seq = [0] * len(sockets)
        received = [0]

        async def listen(index: int, ws: ClientConnection) -> None:
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") == "event":
                    last_seq[index] = message["seq"]
                    received[0] += 1

        listeners = [asyncio.create_task(listen(i, ws)) for i, ws in enumerate(sockets)]
        credentials = benchdb.new_credentials(options.burst)
        seeder = benchdb.DeviceSeeder(db_url)
        await seeder.discover()
        await seeder.insert(credentials)
        client = openloop.make_client(
            "raw", "127.0.0.1", spec.port, limit=connection_limit(options.rate, 256), timeout_s=30
        )
        rng = random.Random(options.seed)
        prepared = [
            client.prepare(r) for r in build_presses("/v1/alerts", credentials, options.rate, rng)
        ]
        start = procstat.Snapshot.take(server_pid=server.pid, database=name, wall=time.time())
        result = await openloop.run_open_loop(client, prepared, options.rate)
        await client.close()
        answered = time.perf_counter()
        failed = sum(1 for o in result.outcomes if o.status not in (200, 201))
        database = await asyncpg.connect(db_url)
        try:
            # The burst's work is done when every alert is routed and every event numbered.
            settle_by = time.perf_counter() + 300
            while time.perf_counter() < settle_by:
                unrouted = await database.fetchval(
                    "SELECT count(*) FROM alert WHERE state = 'received'"
                )
                unnumbered = await database.fetchval(
                    "SELECT count(*) FROM outbox_event WHERE seq IS NULL"
                )
                if not unrouted and not unnumbered:
                    break
                await asyncio.sleep(0.1)
            routed = time.perf_counter() - answered
            head = await database.fetchval("SELECT last_seq FROM stream_state WHERE id = 1")
        finally:
            await database.close()
        deadline = time.perf_counter() + 300
        while time.perf_counter() < deadline:
            if min(last_seq) >= head:
                break
            await asyncio.sleep(0.05)
        caught_up = time.perf_counter() - answered
        end = procstat.Snapshot.take(server_pid=server.pid, database=name, wall=time.time())
        usage = procstat.CpuUsage.between(start, end)
        server_cpu = usage.groups["server"] * usage.seconds / 100
        behind = sum(1 for seq in last_seq if seq < head)
        print("\n== fan-out: a burst to a room of supervisors, one server process ==")
        print(
            f"{options.burst} presses at {options.rate:g}/s ({options.burst - failed} 2xx), "
            f"{len(sockets)} supervisor sockets, head {head}, {received[0]} events delivered"
        )
        print(
            f"after the last answer: all routed and numbered in {routed:.1f} s, every socket at "
            f"the head in {caught_up:.1f} s ({behind} behind); server CPU {server_cpu:.1f} s "
            f"for the whole run (presses, routing and fan-out); {usage.describe()}"
        )
        return 0 if failed == 0 and behind == 0 else 1
    finally:
        for task in listeners:
            task.cancel()
        for ws in sockets:
            await ws.close()
        server.stop()
        await benchdb.drop_database(options.pg_admin_url, name)


async def authenticated(url: str, token: str) -> ClientConnection:
    ws = await connect(url, open_timeout=30, max_queue=None)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    ready = json.loads(await ws.recv())
    assert ready["type"] == "ready", ready
    return ws


async def bench_e2e(options: argparse.Namespace) -> int:
    name = await benchdb.create_database(options.pg_admin_url)
    db_url = benchdb.database_url(options.pg_admin_url, name)
    workdir = Path(tempfile.mkdtemp(prefix="sigap-stream-bench-"))
    running = []
    try:
        specs = []
        for index in range(2):
            spec = servers.sigap_spec(db_url=db_url, workers=1, pool_size=4, max_overflow=4)
            spec.env.update(ENV)
            if specs:  # one deployment: the same keys in every process
                for key in ("SIGAP_SECURITY__SECRET_KEY", "SIGAP_SECURITY__ENCRYPTION_KEYS"):
                    spec.env[key] = specs[0].env[key]
            specs.append(spec)
            (workdir / str(index)).mkdir()
            running.append(servers.launch(spec, workdir / str(index)))
            await servers.wait_ready(running[-1], 90)
        usernames = await staff_posts(db_url)
        async with httpx.AsyncClient(timeout=30) as http:
            tokens = []
            for username in usernames:
                response = await http.post(
                    f"http://127.0.0.1:{specs[0].port}/v1/auth/token",
                    data={"grant_type": "password", "username": username, "password": PASSWORD},
                )
                tokens.append(response.json()["access_token"])
        sockets = [
            await authenticated(f"ws://127.0.0.1:{specs[i % 2].port}/v1/stream", token)
            for i, token in enumerate(tokens)
        ]
        offered_at: dict[str, float] = {}

        async def listen(ws: ClientConnection) -> None:
            async for raw in ws:
                message = json.loads(raw)
                if message.get("event") == "assignment.offered":
                    offered_at.setdefault(message["data"]["alert_id"], time.perf_counter())

        listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
        count = int(options.rate * options.seconds)
        credentials = benchdb.new_credentials(count)
        seeder = benchdb.DeviceSeeder(db_url)
        await seeder.discover()
        await seeder.insert(credentials)
        rng = random.Random(options.seed)
        half = [credentials[0::2], credentials[1::2]]
        runs = []
        for spec, creds in zip(specs, half, strict=True):
            client = openloop.make_client(
                "raw",
                "127.0.0.1",
                spec.port,
                limit=connection_limit(options.rate / 2, 256),
                timeout_s=10,
            )
            prepared = [
                client.prepare(r) for r in build_presses("/v1/alerts", creds, options.rate / 2, rng)
            ]
            runs.append((client, prepared))
        results = await asyncio.gather(
            *(openloop.run_open_loop(c, p, options.rate / 2) for c, p in runs)
        )
        for client, _ in runs:
            await client.close()
        await asyncio.sleep(3)
        latencies, missing, failed = [], 0, 0
        for result in results:
            for index, outcome in enumerate(result.outcomes):
                if outcome.status not in (200, 201) or not outcome.location:
                    failed += 1
                    continue
                alert_id = outcome.location.rsplit("/", 1)[1]
                due = result.started_at + index / result.rate
                if alert_id in offered_at:
                    latencies.append(offered_at[alert_id] - due)
                else:
                    missing += 1
        for task in listeners:
            task.cancel()
        for ws in sockets:
            await ws.close()
        print("== end to end: POST /v1/alerts due -> assignment.offered on a counselor's socket ==")
        print(
            f"2 server processes, {len(sockets)} counselor sockets, {options.rate:g} presses/s "
            f"for {options.seconds:g} s: {count - failed}/{count} acknowledged, "
            f"{len(latencies)} offers received, {missing} missing"
        )
        print(
            f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
            f"p90 {percentile(latencies, 0.9) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
            f"max {max(latencies, default=0) * 1000:.1f} ms"
        )
        return 0 if missing == 0 and failed == 0 else 1
    finally:
        for server in running:
            server.stop()
        await benchdb.drop_database(options.pg_admin_url, name)


async def bench_memory(options: argparse.Namespace) -> int:
    name = await benchdb.create_database(options.pg_admin_url)
    db_url = benchdb.database_url(options.pg_admin_url, name)
    workdir = Path(tempfile.mkdtemp(prefix="sigap-stream-mem-"))
    spec = servers.sigap_spec(db_url=db_url, workers=1, pool_size=5, max_overflow=5)
    spec.env.update(ENV)
    server = servers.launch(spec, workdir)
    sockets: list[ClientConnection] = []
    try:
        await servers.wait_ready(server, 90)
        credentials = benchdb.new_credentials(options.sockets)
        seeder = benchdb.DeviceSeeder(db_url)
        await seeder.discover()
        await seeder.insert(credentials)
        url = f"ws://127.0.0.1:{spec.port}/v1/stream"
        warm = [await authenticated(url, c) for c in credentials[:50]]  # warm caches first
        for ws in warm:
            await ws.close()
        await asyncio.sleep(1)
        before = rss_kib(server.pid)
        gate = asyncio.Semaphore(100)

        async def one(credential: str) -> None:
            async with gate:
                sockets.append(await authenticated(url, credential))

        started = time.perf_counter()
        await asyncio.gather(*(one(c) for c in credentials))
        took = time.perf_counter() - started
        await asyncio.sleep(2)
        after = rss_kib(server.pid)
        print("\n== idle sockets: memory of one server process ==")
        print(
            f"{len(sockets)} authenticated device sockets opened in {took:.1f} s; server RSS "
            f"{before / 1024:.1f} MiB before, {after / 1024:.1f} MiB after: "
            f"{(after - before) / len(sockets):.1f} KiB per idle socket"
        )
        return 0
    finally:
        for ws in sockets:
            await ws.close()
        server.stop()
        await benchdb.drop_database(options.pg_admin_url, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="presses per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--fanout", type=int, default=0, help="supervisor sockets (0: skip)")
    parser.add_argument("--burst", type=int, default=1000, help="presses in the fan-out burst")
    parser.add_argument("--pg-admin-url", default="postgresql://root@127.0.0.1:5432/postgres")
    options = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(
        resource.RLIMIT_NOFILE, (min(hard, max(soft, options.sockets * 2 + 512)), hard)
    )
    status = 0
    if not options.skip_e2e:
        status |= servers.run(bench_e2e(options))
    if not options.skip_memory:
        status |= servers.run(bench_memory(options))
    if options.fanout:
        status |= servers.run(bench_fanout(options))
    return status


if __name__ == "__main__":
    sys.exit(main())

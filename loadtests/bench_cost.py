"""What an alert costs, end to end, on PostgreSQL: CPU, statements and transactions per alert, an
idle process's statements per second, and a burst of drills with one real press in it.

One Sigap server (one worker by default) on a throw-away database, every unit staffed and open
around the clock (rows written directly; live presence off), then three phases:

1. **Idle**: after the start-up has settled, statements and transactions per second over
   ``--idle-seconds``, read from the server's own ``/metrics`` (``sigap_db_statements_total``,
   ``sigap_db_transactions_total``: every statement the process sends, counted by an engine
   event). The LISTEN connection's heartbeat (one ``SELECT 1`` every
   ``realtime.listener_heartbeat_s``) is outside the engine and not in this figure.
2. **End to end**: presses open loop at ``--rate`` for ``--seconds``; the phase ends when every
   alert is routed, offered, numbered by the relay and has its acknowledgement clock running.
   Prints the server's CPU per alert (all of it: press, routing, relay, hub, SLA monitor,
   notifier), statements and transactions per alert, press latency and received -> offered.
3. **Burst**: ``--burst`` drill presses from as many devices within ``--burst-seconds``, one
   real press in the middle. Prints the answers, the time until every alert is routed, and the
   real press's received -> offered against the drills'.

    .venv/bin/python loadtests/bench_cost.py        # idle 20 s; 100/s for 20 s; a 5,000 burst
    .venv/bin/python loadtests/bench_cost.py --rate 200 --seconds 10 --burst 0
    .venv/bin/python loadtests/bench_cost.py --idle-seconds 5 --rate 50 --seconds 5 --burst 1000

Exit status 1 when an alert was not answered 2xx, routed and offered exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchdb
import openloop
import procstat
import servers
from bench_dispatch import percentile, staff_everyone
from bench_intake import build_presses, connection_limit


async def counters(port: int) -> tuple[float, float]:
    """(statements, transactions) the server has run since it started."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (
            await client.get(
                f"http://127.0.0.1:{port}/metrics",
                headers={"Authorization": f"Bearer {servers.OPS_TOKEN}"},
            )
        ).text

    def value(name: str) -> float:
        found = re.search(rf"^{name}_total ([0-9.e+]+)$", text, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"/metrics has no {name}_total")
        return float(found.group(1))

    return value("sigap_db_statements"), value("sigap_db_transactions")


async def settled(url: str, alerts: int, *, timeout_s: float) -> float:
    """Wait until ``alerts`` alerts are routed, offered, numbered and have their acknowledgement
    clock; returns the seconds waited (raises TimeoutError)."""
    started = time.monotonic()
    connection = await asyncpg.connect(url)
    row = None
    try:
        while time.monotonic() - started < timeout_s:
            row = await connection.fetchrow(
                """
                SELECT (SELECT count(*) FROM alert WHERE routed_at IS NOT NULL) AS routed,
                       (SELECT count(*) FROM dispatch_task WHERE kind = 'route') AS routing,
                       (SELECT count(*) FROM outbox_event WHERE seq IS NULL) AS unnumbered,
                       (SELECT count(*) FROM sla_clock WHERE clock = 'acknowledgement') AS clocks
                """
            )
            assert row is not None
            quiet = row["routing"] == row["unnumbered"] == 0
            if quiet and row["routed"] >= alerts and row["clocks"] >= alerts:
                return time.monotonic() - started
            await asyncio.sleep(0.05)
    finally:
        await connection.close()
    raise TimeoutError(
        f"{alerts} alerts did not settle within {timeout_s:.0f} s: {dict(row or {})}"
    )


async def routing_delays(url: str) -> dict[str, tuple[bool, float, int]]:
    """Alert id -> (is drill, received -> first offer in s (-1: none), first decisions)."""
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            """
            SELECT a.id, a.is_drill, a.received_at, min(s.offered_at) AS offered_at,
                   count(DISTINCT d.id) FILTER (WHERE d.step = 0) AS first_decisions
            FROM alert a
            LEFT JOIN assignment s ON s.alert_id = a.id AND s.step = 0
            LEFT JOIN routing_decision d ON d.alert_id = a.id
            GROUP BY a.id
            """
        )
    finally:
        await connection.close()
    return {
        str(r["id"]): (
            r["is_drill"],
            (r["offered_at"] - r["received_at"]).total_seconds() if r["offered_at"] else -1.0,
            int(r["first_decisions"]),
        )
        for r in rows
    }


def drill(request: openloop.PreparedRequest) -> openloop.PreparedRequest:
    document = json.loads(request.body)
    document["is_drill"] = True
    return openloop.PreparedRequest(request.path, request.headers, json.dumps(document).encode())


async def press(
    port: int, url: str, requests: list[openloop.PreparedRequest], rate: float
) -> openloop.RunResult:
    client = openloop.make_client(
        "raw", "127.0.0.1", port, limit=connection_limit(rate, 256), timeout_s=30
    )
    try:
        prepared = [client.prepare(r) for r in requests]
        return await openloop.run_open_loop(client, prepared, rate)
    finally:
        await client.close()


async def new_presses(
    url: str, count: int, rate: float, seed: int
) -> list[openloop.PreparedRequest]:
    credentials = benchdb.new_credentials(count)
    seeder = benchdb.DeviceSeeder(url)
    await seeder.discover()
    await seeder.insert(credentials)
    return build_presses("/v1/alerts", credentials, rate, random.Random(seed))


def ms(values: list[float], fraction: float) -> str:
    return f"{percentile(values, fraction) * 1000:.1f}" if values else "-"


async def bench(options: argparse.Namespace) -> int:
    name = await benchdb.create_database(options.pg_admin_url)
    url = benchdb.database_url(options.pg_admin_url, name)
    workdir = Path(tempfile.mkdtemp(prefix="sigap-cost-bench-"))
    spec = servers.sigap_spec(
        db_url=url, workers=1, pool_size=options.pool_size, max_overflow=options.pool_size
    )
    spec.env["SIGAP_REALTIME__PRESENCE_REQUIRED"] = "false"  # staffed by rows, no consoles
    server = servers.launch(spec, workdir)
    healthy = True
    try:
        await servers.wait_ready(server, 90)
        staffed = await staff_everyone(url)
        print(f"server: {spec.command()}\n{staffed} units staffed; log in {server.log}")

        await asyncio.sleep(options.settle_seconds)
        # /metrics itself runs a few queries (queue depth, alerts by state): two reads back to
        # back measure that, and it is taken off the idle window's count.
        first = await counters(spec.port)
        before = await counters(spec.port)
        await asyncio.sleep(options.idle_seconds)
        after = await counters(spec.port)
        idle = [(a - b) - (b - f) for f, b, a in zip(first, before, after, strict=True)]
        print(f"\n== idle, {options.idle_seconds:g} s ==")
        print(
            f"{idle[0] / options.idle_seconds:.2f} statements/s, "
            f"{idle[1] / options.idle_seconds:.2f} transactions/s "
            f"(one /metrics read costs {before[0] - first[0]:.0f} statements, not counted)"
        )

        count = int(options.rate * options.seconds)
        done = 0
        if count:
            requests = await new_presses(url, count, options.rate, options.seed)
            before = await counters(spec.port)
            start = procstat.Snapshot.take(
                server_pid=server.pid, database=name, wall=time.monotonic()
            )
            run = await press(spec.port, url, requests, options.rate)
            await settled(url, count, timeout_s=120)
            end = procstat.Snapshot.take(
                server_pid=server.pid, database=name, wall=time.monotonic()
            )
            after = await counters(spec.port)
            usage = procstat.CpuUsage.between(start, end)
            cpu_s = usage.groups["server"] / 100 * usage.seconds
            pg_s = usage.groups["pg_bench"] / 100 * usage.seconds
            ok = sum(1 for o in run.outcomes if o.status in (200, 201))
            delays = [d for _, d, _ in (await routing_delays(url)).values() if d >= 0]
            press_s = sorted(o.latency_s for o in run.outcomes)
            print(f"\n== end to end, {options.rate:g} presses/s for {options.seconds:g} s ==")
            print(
                f"{ok}/{count} answered 2xx; all routed, offered, numbered, clocks running "
                f"{usage.seconds:.1f} s after the first press "
                f"({count / usage.seconds:.0f} alerts/s)"
            )
            print(
                f"server CPU {cpu_s * 1000 / count:.2f} ms per alert "
                f"(PostgreSQL backends {pg_s * 1000 / count:.2f} ms); "
                f"{(after[0] - before[0]) / count:.1f} statements and "
                f"{(after[1] - before[1]) / count:.2f} transactions per alert"
            )
            print(
                f"press p50 {ms(press_s, 0.5)} ms, p99 {ms(press_s, 0.99)} ms; "
                f"received -> offered p50 {ms(sorted(delays), 0.5)} ms, "
                f"p99 {ms(sorted(delays), 0.99)} ms; CPU: {usage.describe()}"
            )
            healthy &= ok == count
            done = count

        if options.burst:
            rate = options.burst / options.burst_seconds
            requests = await new_presses(url, options.burst, rate, options.seed + 1)
            real_at = options.burst // 2
            requests = [r if i == real_at else drill(r) for i, r in enumerate(requests)]
            started = time.monotonic()
            run = await press(spec.port, url, requests, rate)
            sent = time.monotonic() - started
            drained = await settled(url, done + options.burst, timeout_s=600)
            ok = sum(1 for o in run.outcomes if o.status in (200, 201))
            rows = await routing_delays(url)
            location = run.outcomes[real_at].location or ""
            real = rows[location.rsplit("/", 1)[-1]][1] if location else -1.0
            drills = sorted(d for is_drill, d, _ in rows.values() if is_drill and d >= 0)
            refused = sorted({o.status for o in run.outcomes if o.status not in (200, 201)})
            print(f"\n== burst: {options.burst} presses from as many devices in {sent:.1f} s ==")
            print(
                f"{ok}/{options.burst} answered 2xx"
                + (f" (others: {refused})" if refused else "")
                + f"; every alert routed {sent + drained:.1f} s after the first press "
                f"({drained:.1f} s after the last)"
            )
            print(
                f"the real press (#{real_at}): received -> offered {real * 1000:.0f} ms; "
                f"drills p50 {ms(drills, 0.5)} ms, p99 {ms(drills, 0.99)} ms, "
                f"max {ms(drills, 1.0)} ms"
            )
            healthy &= ok == options.burst
        once = [n for _, _, n in (await routing_delays(url)).values()]
        if any(n != 1 for n in once):
            print(f"!! {sum(n != 1 for n in once)} alerts without exactly one first decision")
            healthy = False
        return 0 if healthy else 1
    finally:
        server.stop()
        await benchdb.drop_database(options.pg_admin_url, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--settle-seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=100.0, help="presses per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=5000, help="presses in the burst (0: none)")
    parser.add_argument("--burst-seconds", type=float, default=10.0)
    parser.add_argument("--pool-size", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--pg-admin-url", default="postgresql://root@127.0.0.1:5432/postgres")
    return servers.run(bench(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())

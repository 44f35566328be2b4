"""SLA benchmark on PostgreSQL: monitor lag with many running clocks, and report time.

1. Monitor lag: ``--clocks`` running acknowledgement clocks (one per alert) written directly,
   with deadlines spread over the next ``--spread`` seconds, and one Sigap server process whose
   monitor fires them. Lag = ``breached_at`` (stamped when the breach was committed) minus the
   deadline, p50/p99/max, and a check that each fired exactly once.
2. Report: ``--report-alerts`` alerts with routing and acknowledgement clocks written directly;
   the time ``sla_report`` takes for each grouping (median of 3), percentiles in PostgreSQL.

    .venv/bin/python loadtests/bench_sla.py
    .venv/bin/python loadtests/bench_sla.py --clocks 10000 --report-alerts 100000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchdb
import servers

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.migrate import upgrade
from app.sla.reports import sla_report

ALERT_COLUMNS = [
    "id",
    "case_code",
    "device_id",
    "region_code",
    "state",
    "is_drill",
    "silent",
    "reporter",
    "flags",
    "area_code",
    "area_method",
    "station_candidates",
    "press_count",
    "last_pressed_at",
    "joinable",
    "device_status",
    "duress",
    "do_not_call_back",
    "received_at",
    "updated_at",
    "dispatch_step",
    "escalations",
    "sla_dirty",
    "routed_at",
]
CLOCK_COLUMNS = [
    "id",
    "alert_id",
    "clock",
    "target_key",
    "policy_version",
    "started_at",
    "warn_at",
    "deadline_at",
    "stopped_at",
    "status",
    "next_at",
    "breach_cause",
    "excluded",
]
AREAS = ["3171060", "3171050", "3173080", "3174010", "3175010", "3172010"]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


async def write_history(
    url: str,
    *,
    alerts: int,
    deadline_of,
    running: bool,
    seed: int,  # type: ignore[no-untyped-def]
) -> None:
    rng = random.Random(seed)
    connection = await asyncpg.connect(url)
    try:
        device = uuid.uuid4()
        now = datetime.now(UTC)
        await connection.execute(
            "INSERT INTO device (id, credential_hash, created_at, pin_failures) "
            "VALUES ($1, $2, $3, 0)",
            device,
            uuid.uuid4().hex * 2,
            now,
        )
        alert_rows, clock_rows = [], []
        for n in range(alerts):
            received = now - timedelta(seconds=rng.uniform(0, 90 * 86400)) if not running else now
            alert_id = uuid.uuid4()
            alert_rows.append(
                (
                    alert_id,
                    f"SGP-B{n:08d}",
                    device,
                    "dki-jakarta",
                    "routed",
                    not running and rng.random() < 0.03,  # drills: the report's history only
                    True,
                    "victim",
                    "[]",
                    rng.choice(AREAS),
                    "inside",
                    "[]",
                    1,
                    received,
                    False,
                    "active",
                    False,
                    False,
                    received,
                    received,
                    0,
                    0,
                    False,
                    received,
                )
            )
            if running:
                deadline = deadline_of(rng)
                clock_rows.append(
                    (
                        uuid.uuid4(),
                        alert_id,
                        "acknowledgement",
                        "acknowledgement",
                        "bench",
                        deadline - timedelta(seconds=60),
                        deadline - timedelta(seconds=15),
                        deadline,
                        None,
                        "warning",
                        deadline,
                        None,
                        False,
                    )
                )
                continue
            for clock, target, scale in (("routing", 5, 2.0), ("acknowledgement", 60, 40.0)):
                duration = rng.expovariate(1 / scale)
                clock_rows.append(
                    (
                        uuid.uuid4(),
                        alert_id,
                        clock,
                        clock,
                        "bench",
                        received,
                        received + timedelta(seconds=target * 0.75),
                        received + timedelta(seconds=target),
                        received + timedelta(seconds=duration),
                        "met" if duration <= target else "breached",
                        None,
                        None if duration <= target else "timed_out",
                        False,
                    )
                )
        await connection.copy_records_to_table("alert", records=alert_rows, columns=ALERT_COLUMNS)
        await connection.copy_records_to_table(
            "sla_clock", records=clock_rows, columns=CLOCK_COLUMNS
        )
    finally:
        await connection.close()


async def bench_monitor(options: argparse.Namespace) -> int:
    name = await benchdb.create_database(options.pg_admin_url)
    url = benchdb.database_url(options.pg_admin_url, name)
    workdir = Path(tempfile.mkdtemp(prefix="sigap-sla-bench-"))
    spec = servers.sigap_spec(db_url=url, workers=1, pool_size=5, max_overflow=5)
    server = servers.launch(spec, workdir)
    try:
        await servers.wait_ready(server, 90)
        start = datetime.now(UTC) + timedelta(seconds=5)

        def deadline(rng: random.Random) -> datetime:
            return start + timedelta(seconds=rng.uniform(0, options.spread))

        await write_history(url, alerts=options.clocks, deadline_of=deadline, running=True, seed=1)
        end = time.monotonic() + options.spread + 30
        connection = await asyncpg.connect(url)
        try:
            while time.monotonic() < end:
                left = await connection.fetchval(
                    "SELECT count(*) FROM sla_clock WHERE status IN ('running', 'warning')"
                )
                if left == 0:
                    break
                await asyncio.sleep(0.5)
            rows = await connection.fetch(
                "SELECT extract(epoch FROM breached_at - deadline_at) AS lag FROM sla_clock "
                "WHERE status = 'breached'"
            )
            events = await connection.fetchval(
                "SELECT count(*) FROM outbox_event WHERE event_type = 'sla.breached'"
            )
        finally:
            await connection.close()
        lags = [float(r["lag"]) for r in rows]
        print("== SLA monitor lag: deadline -> sla.breached committed ==")
        print(
            f"{options.clocks} running clocks, deadlines over {options.spread:g} s, one server "
            f"process: {len(lags)} breached, {events} sla.breached events; lag p50 "
            f"{percentile(lags, 0.5) * 1000:.0f} ms, p99 {percentile(lags, 0.99) * 1000:.0f} ms,"
            f" max {max(lags, default=0) * 1000:.0f} ms"
        )
        return 0 if len(lags) == events == options.clocks else 1
    finally:
        server.stop()
        await benchdb.drop_database(options.pg_admin_url, name)


async def bench_report(options: argparse.Namespace) -> int:
    name = await benchdb.create_database(options.pg_admin_url)
    url = benchdb.database_url(options.pg_admin_url, name)
    settings = Settings(database_url=url, dev=True)
    try:
        await upgrade(settings)
        from app.reference.loader import load_all

        engine = create_engine(settings, pool_size=2)
        sessions = create_sessionmaker(engine)
        async with sessions() as session:
            await load_all(session, extra_dirs=[], now=datetime.now(UTC))
            await session.commit()
        await write_history(
            url, alerts=options.report_alerts, deadline_of=None, running=False, seed=2
        )
        connection = await asyncpg.connect(url)
        await connection.execute("ANALYZE")
        await connection.close()
        print(f"\n== SLA report over {options.report_alerts} alerts (90 days) ==")
        now = datetime.now(UTC)
        for group_by in ("kecamatan", "kota", "hour", "day", "post"):
            timings = []
            for _ in range(3):
                async with sessions() as session:
                    started = time.perf_counter()
                    report = await sla_report(
                        session,
                        start=now - timedelta(days=91),
                        end=now + timedelta(days=1),
                        group_by=group_by,  # type: ignore[arg-type]
                        timezone="Asia/Jakarta",
                        region="dki-jakarta",
                    )
                    timings.append(time.perf_counter() - started)
            print(
                f"group_by={group_by:<9} {len(report['groups']):>3} groups: "
                f"{statistics.median(timings) * 1000:.0f} ms (median of 3)"
            )
        await engine.dispose()
        return 0
    finally:
        await benchdb.drop_database(options.pg_admin_url, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clocks", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=20.0)
    parser.add_argument("--report-alerts", type=int, default=100_000)
    parser.add_argument("--skip-monitor", action="store_true")
    parser.add_argument("--skip-report", action="store_true")
    parser.add_argument("--pg-admin-url", default="postgresql://root@127.0.0.1:5432/postgres")
    options = parser.parse_args()
    status = 0
    if not options.skip_monitor:
        status |= servers.run(bench_monitor(options))
    if not options.skip_report:
        status |= servers.run(bench_report(options))
    return status


if __name__ == "__main__":
    sys.exit(main())

"""Dispatch benchmark: the routing core alone, then end to end on PostgreSQL.

1. Routing core: ``decide`` over the shipped DKI Jakarta data (44 posts, every station), everyone
   on duty, random points in Jakarta placed by the real geo indexes. Prints time per decision.
2. End to end (unless ``--core-only``): a Sigap server on a throw-away PostgreSQL database with
   every post and transit desk staffed, presses sent open-loop at ``--rate`` for ``--seconds``;
   then, per alert, the time from its receipt to its first offer (both server timestamps: the
   press's ``received_at`` and the offer's ``offered_at``), p50/p99, and a check that every alert
   got exactly one first decision.

    .venv/bin/python loadtests/bench_dispatch.py                      # core + e2e at 50/s, 20 s
    .venv/bin/python loadtests/bench_dispatch.py --rate 50 --workers 2
    .venv/bin/python loadtests/bench_dispatch.py --core-only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchdb
import openloop
import servers
from bench_intake import build_presses, connection_limit

from app.dispatch.hours import OpeningHours
from app.dispatch.routing import (
    AlertFacts,
    Member,
    PartnerState,
    RoutingInput,
    RoutingPolicy,
    StationNear,
    UnitState,
    decide,
)
from app.geo.areas import AreaIndex
from app.geo.stations import StationIndex
from app.reference.bundle import (
    read_bundle,
    shipped_regions_dir,
    to_geo_areas,
    to_geo_stations,
)

MONDAY_10_JAKARTA = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench_core(decisions: int, seed: int) -> None:
    bundle = read_bundle(shipped_regions_dir() / "dki-jakarta")
    areas = AreaIndex.build(
        to_geo_areas(bundle), {bundle.region.code: bundle.region.outside_tolerance_m}
    )
    stations = StationIndex.build(to_geo_stations(bundle))
    default_hours = OpeningHours.from_json(bundle.region.default_post_hours.model_dump())
    units = [
        UnitState(
            code=u.code,
            kind=u.kind,
            lat=u.lat,
            lon=u.lon,
            area_code=u.area_code,
            partner_code=u.partner_code,
            station_uid=u.station_uid,
            hours=OpeningHours.from_json(
                u.hours.model_dump() if u.hours else None,
                default=default_hours if u.kind == "post" else OpeningHours.ALWAYS,
            ),
            on_duty=(Member(staff_id=f"staff-{u.code}", sex="female"),),
            takes_drills=u.takes_drills,
            active=True,
        )
        for u in bundle.units
    ]
    partners = {
        p.code: PartnerState(
            code=p.code,
            control_desk_code=p.control_desk_code,
            operating_hours=OpeningHours.from_json(p.operating_hours.model_dump()),
        )
        for p in bundle.partners
    }
    rng = random.Random(seed)
    inputs = []
    for _ in range(decisions):
        lat, lon = rng.uniform(-6.36, -6.09), rng.uniform(106.69, 106.97)
        accuracy = rng.choice([10.0, 25.0, 60.0, 400.0, 1500.0])
        area = areas.locate(lat, lon)
        near = stations.nearby(
            lat, lon, accuracy, search_radius_m=500, at_station_radius_m=150, max_accuracy_m=150
        )
        inputs.append(
            RoutingInput(
                alert=AlertFacts(
                    lat=lat,
                    lon=lon,
                    accuracy_m=accuracy,
                    area_code=area.area_code,
                    area_method=area.method,
                    stations=tuple(
                        StationNear(s.uid, s.partner_code, s.distance_m, s.at_station) for s in near
                    ),
                ),
                units=units,
                partners=partners,
                central_code=bundle.region.central_desk_code,
                now_local=MONDAY_10_JAKARTA,
                holidays=frozenset(),
                policy=RoutingPolicy(),
            )
        )
    timings = []
    for routing_input in inputs:
        started = time.perf_counter()
        decide(routing_input)
        timings.append(time.perf_counter() - started)
    total = sum(timings)
    print("== routing core ==")
    print(
        f"{decisions} decisions over {sum(u.kind == 'post' for u in units)} posts, "
        f"{len(bundle.stations)} stations: {decisions / total:,.0f} decisions/s; per decision "
        f"mean {statistics.mean(timings) * 1e6:.0f} us, p50 {percentile(timings, 0.5) * 1e6:.0f} "
        f"us, p99 {percentile(timings, 0.99) * 1e6:.0f} us, max {max(timings) * 1e6:.0f} us"
    )


async def staff_everyone(url: str) -> int:
    """One on-duty member for every unit, for the next day (rows written directly)."""
    connection = await asyncpg.connect(url)
    try:
        # Posts open around the clock: the figures must not depend on the hour of the run.
        await connection.execute(
            "UPDATE unit SET hours = $1::jsonb, updated_at = now() WHERE kind = 'post'",
            json.dumps({"always_open": True, "closed_on_holidays": False, "weekly": {}}),
        )
        units = await connection.fetch("SELECT id, code FROM unit")
        now = datetime.now(UTC)
        staff = [
            (uuid.uuid4(), f"bench.{u['code']}", "!", "counselor", u["id"], now) for u in units
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
    return len(units)


async def bench_e2e(options: argparse.Namespace) -> int:
    name = await benchdb.create_database(options.pg_admin_url)
    db_url = benchdb.database_url(options.pg_admin_url, name)
    workdir = Path(tempfile.mkdtemp(prefix="sigap-dispatch-bench-"))
    spec = servers.sigap_spec(
        db_url=db_url, workers=options.workers, pool_size=options.pool_size, max_overflow=5
    )
    spec.env["SIGAP_DISPATCH__POLL_INTERVAL_S"] = str(options.poll)
    spec.env["SIGAP_REALTIME__PRESENCE_REQUIRED"] = "false"  # staffed by rows, no consoles
    server = servers.launch(spec, workdir)
    try:
        await servers.wait_ready(server, 90)
        staffed = await staff_everyone(db_url)
        count = int(options.rate * options.seconds)
        credentials = benchdb.new_credentials(count)
        seeder = benchdb.DeviceSeeder(db_url)
        await seeder.discover()
        await seeder.insert(credentials)
        rng = random.Random(options.seed)
        requests = build_presses("/v1/alerts", credentials, options.rate, rng)
        client = openloop.make_client(
            "raw", "127.0.0.1", spec.port, limit=connection_limit(options.rate, 256), timeout_s=10
        )
        prepared = [client.prepare(r) for r in requests]
        with openloop.paused_gc():
            run = await openloop.run_open_loop(client, prepared, options.rate)
        await client.close()
        ok = sum(1 for o in run.outcomes if o.status in (200, 201))
        await asyncio.sleep(max(2.0, 4 * options.poll))  # let the last ones be routed
        connection = await asyncpg.connect(db_url)
        try:
            rows = await connection.fetch(
                """
                SELECT a.received_at, min(s.offered_at) AS offered_at,
                       count(DISTINCT d.id) FILTER (WHERE d.step = 0) AS first_decisions
                FROM alert a
                LEFT JOIN assignment s ON s.alert_id = a.id AND s.step = 0
                LEFT JOIN routing_decision d ON d.alert_id = a.id
                GROUP BY a.id
                """
            )
            pending = await connection.fetchval(
                "SELECT count(*) FROM dispatch_task WHERE kind = 'route'"
            )
        finally:
            await connection.close()
        latencies = [
            (r["offered_at"] - r["received_at"]).total_seconds()
            for r in rows
            if r["offered_at"] is not None
        ]
        once = sum(1 for r in rows if r["first_decisions"] == 1)
        print("\n== end to end: press received -> first offer committed ==")
        print(
            f"{options.workers} worker(s), {staffed} units staffed, {options.rate:g} presses/s "
            f"for {options.seconds:g} s: {ok}/{count} acknowledged, {len(rows)} alerts, "
            f"{len(latencies)} offered, {once} with exactly one first decision, "
            f"{pending} still waiting"
        )
        if latencies:
            print(
                f"received -> offered: p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
                f"p90 {percentile(latencies, 0.9) * 1000:.1f} ms, "
                f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
                f"max {max(latencies) * 1000:.1f} ms"
            )
        press_ms = sorted(o.latency_s * 1000 for o in run.outcomes)
        print(
            f"press latency (open loop): p50 {percentile(press_ms, 0.5):.1f} ms, "
            f"p99 {percentile(press_ms, 0.99):.1f} ms"
        )
        healthy = ok == count == len(rows) == len(latencies) == once and pending == 0
        return 0 if healthy else 1
    finally:
        server.stop()
        await benchdb.drop_database(options.pg_admin_url, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--core-only", action="store_true")
    parser.add_argument("--rate", type=float, default=50.0, help="presses per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pool-size", type=int, default=5)
    parser.add_argument("--poll", type=float, default=0.5, help="dispatcher poll interval, s")
    parser.add_argument("--pg-admin-url", default="postgresql://root@127.0.0.1:5432/postgres")
    options = parser.parse_args()
    bench_core(options.decisions, options.seed)
    if options.core_only:
        return 0
    return servers.run(bench_e2e(options))


if __name__ == "__main__":
    sys.exit(main())

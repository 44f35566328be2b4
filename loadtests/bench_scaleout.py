"""Scale-out on one PostgreSQL: the press's max sustained rate and press -> offer latency with
1, 2 and 4 uvicorn workers (``sigap serve --workers N``).

For each worker count: a throw-away database on the PostgreSQL server, every post staffed by a
counselor with a connected console (bench_stream.staff_posts), then open-loop steps of rising
rate. A step passes when every press got a 2xx, p99 (from the scheduled time, no coordinated
omission) < 200 ms and the achieved rate >= 95 % of the offered one; the max sustained rate is
the last passing step. Press -> ``assignment.offered`` on a counselor's socket is measured from
the press's scheduled time in every step and shown for the last passing one. A figure, not a
pass/fail: on 2 cores shared by the generator, PostgreSQL and the workers, more workers mostly
add contention; the CPU split printed per step says what saturates.

    .venv/bin/python loadtests/bench_scaleout.py                        # 1,2,4 workers
    .venv/bin/python loadtests/bench_scaleout.py --workers 1,2 --rates 20,40 --step-seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchdb
import openloop
import procstat
import servers
from bench_intake import build_presses, connection_limit
from bench_stream import ENV, PASSWORD, authenticated, percentile, staff_posts

P99_LIMIT_MS = 200.0


async def one_worker_count(options: argparse.Namespace, workers: int) -> tuple[float, str]:
    name = await benchdb.create_database(options.pg_admin_url)
    db_url = benchdb.database_url(options.pg_admin_url, name)
    workdir = Path(tempfile.mkdtemp(prefix=f"sigap-scaleout-{workers}-"))
    spec = servers.sigap_spec(db_url=db_url, workers=workers, pool_size=3, max_overflow=2)
    spec.env.update(ENV)
    server = servers.launch(spec, workdir)
    sockets: list[ClientConnection] = []
    listeners: list[asyncio.Task[None]] = []
    try:
        await servers.wait_ready(server, 120)
        usernames = await staff_posts(db_url)
        async with httpx.AsyncClient(timeout=30) as http:
            for username in usernames:
                token = (
                    await http.post(
                        f"http://127.0.0.1:{spec.port}/v1/auth/token",
                        data={"grant_type": "password", "username": username,
                              "password": PASSWORD},
                    )
                ).json()["access_token"]
                sockets.append(await authenticated(f"ws://127.0.0.1:{spec.port}/v1/stream", token))
        offered_at: dict[str, float] = {}

        async def listen(ws: ClientConnection) -> None:
            async for raw in ws:
                message = json.loads(raw)
                if message.get("event") == "assignment.offered":
                    offered_at.setdefault(message["data"]["alert_id"], time.perf_counter())

        listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
        rng = random.Random(options.seed)
        best, best_e2e = 0.0, "no step passed"
        for rate in options.rates:
            credentials = benchdb.new_credentials(int(rate * options.step_seconds))
            seeder = benchdb.DeviceSeeder(db_url)
            await seeder.discover()
            await seeder.insert(credentials)
            client = openloop.make_client(
                "raw", "127.0.0.1", spec.port, limit=connection_limit(rate, 256), timeout_s=10
            )
            prepared = [client.prepare(r) for r in build_presses("/v1/alerts", credentials,
                                                                  rate, rng)]
            before = procstat.Snapshot.take(server_pid=server.pid, database=name,
                                            wall=time.monotonic())
            result = await openloop.run_open_loop(client, prepared, rate)
            await client.close()
            after = procstat.Snapshot.take(server_pid=server.pid, database=name,
                                           wall=time.monotonic())
            cpu_text = procstat.CpuUsage.between(before, after).describe()
            stats = openloop.StepStats.of(result, duration_s=options.step_seconds)
            await asyncio.sleep(2)  # offers of the step's last presses
            e2e = []
            for index, outcome in enumerate(result.outcomes):
                if outcome.location:
                    alert_id = outcome.location.rsplit("/", 1)[1]
                    if alert_id in offered_at:
                        e2e.append(offered_at[alert_id] - (result.started_at + index / rate))
            e2e.sort()
            passed = stats.passes(p99_limit_ms=P99_LIMIT_MS, min_achieved_fraction=0.95)
            e2e_text = (
                f"press->offer p50 {percentile(e2e, 0.5) * 1000:.0f} ms p99 "
                f"{percentile(e2e, 0.99) * 1000:.0f} ms ({len(e2e)}/{stats.ok} offers seen)"
            )
            print(
                f"  {workers} workers {rate:6.0f}/s: achieved {stats.achieved:6.1f}/s, "
                f"p50 {stats.p50_ms:6.1f} p99 {stats.p99_ms:7.1f} ms, errors {stats.errors}, "
                f"{e2e_text} {'PASS' if passed else 'FAIL'} {cpu_text}",
                flush=True,
            )
            if not passed:
                break
            best, best_e2e = rate, e2e_text
        return best, best_e2e
    finally:
        for task in listeners:
            task.cancel()
        for ws in sockets:
            await ws.close()
        server.stop()
        await benchdb.drop_database(options.pg_admin_url, name)


async def main(options: argparse.Namespace) -> int:
    print(f"== scale-out: steps {options.rates} /s of {options.step_seconds:g} s, "
          f"p99 < {P99_LIMIT_MS:.0f} ms, open loop", flush=True)
    figures = []
    for workers in options.workers:
        figures.append((workers, *await one_worker_count(options, workers)))
    print("== max sustained press rate and press -> offer at that rate")
    for workers, best, e2e in figures:
        print(f"  {workers} workers: {best:g}/s; {e2e}")
    return 0


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-admin-url", default="postgresql://root@127.0.0.1:5432/postgres")
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1, 2, 4])
    parser.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")],
                        default=[25, 50, 100, 150, 200, 300])
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(servers.run(main(parse())))

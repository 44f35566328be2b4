"""Presses during a sign-in flood: does password hashing stall intake?

One Sigap worker on a throw-away PostgreSQL database, production argon2 parameters. Two phases of
the same steady press rate (open loop): alone, then beside a closed-loop flood of wrong passwords
(``--flood`` concurrent senders, a fresh username for every few tries so the per-account back-off
lets them all be hashed, and the per-network limit raised so the flood from 127.0.0.1 is not cut
short). Prints press p50/p99/max per phase, and the flood's answers and hashes per second.

    .venv/bin/python loadtests/bench_signin.py                 # 20 presses/s, 10 s per phase
    .venv/bin/python loadtests/bench_signin.py --rate 50 --seconds 20 --flood 64
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import benchdb
import httpx
import servers
from openloop import percentile

PRESS_BODY = {"reporter": "victim", "silent": True, "location": {"lat": -6.2436, "lon": 106.8013}}


async def press_phase(
    base: str, credentials: list[str], *, rate: float, seconds: float
) -> list[float]:
    """Open loop: one press every 1/rate s from its own device, whatever the answers take."""
    timings: list[float] = []
    failures: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=base, timeout=60.0) as client:

        async def one(credential: str) -> None:
            started = time.perf_counter()
            response = await client.post(
                "/v1/alerts",
                json=PRESS_BODY | {"pressed_at": datetime.now(UTC).isoformat()},
                headers={
                    "Authorization": f"Bearer {credential}",
                    "Idempotency-Key": uuid.uuid4().hex,
                },
            )
            timings.append((time.perf_counter() - started) * 1000)
            if response.status_code // 100 != 2:
                failures[response.status_code] += 1

        tasks = []
        start = time.perf_counter()
        for n, credential in enumerate(credentials[: int(rate * seconds)]):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(credential)))
        await asyncio.gather(*tasks)
    if failures:
        print(f"  presses not 2xx: {dict(failures)}")
    return sorted(timings)


async def flood(base: str, *, senders: int, stop: asyncio.Event) -> Counter[int]:
    answers: Counter[int] = Counter()
    names = itertools.count()
    async with httpx.AsyncClient(base_url=base, timeout=60.0) as client:

        async def sender() -> None:
            while not stop.is_set():
                username = f"nobody{next(names) // 3}"  # three tries each: all within the free ones
                response = await client.post(
                    "/v1/auth/token",
                    data={"grant_type": "password", "username": username, "password": "guess"},
                )
                answers[response.status_code] += 1

        await asyncio.gather(*(sender() for _ in range(senders)))
    return answers


def describe(label: str, timings: list[float]) -> None:
    print(
        f"  {label:28} presses {len(timings):5}  p50 {percentile(timings, 0.5):7.1f} ms"
        f"  p99 {percentile(timings, 0.99):7.1f} ms  max {timings[-1]:7.1f} ms"
    )


async def bench(options: argparse.Namespace) -> None:
    database = await benchdb.create_database(options.admin_url)
    db_url = benchdb.database_url(options.admin_url, database)
    workdir = Path(tempfile.mkdtemp(prefix="sigap-bench-signin-"))
    spec = servers.sigap_spec(db_url=db_url, workers=1, pool_size=5, max_overflow=5)
    spec.env["SIGAP_SECURITY__SIGNIN_PER_NETWORK_LIMIT"] = "100000000"
    spec.env["SIGAP_SECURITY__HASHING_THREADS"] = str(options.hashing_threads)
    server = servers.launch(spec, workdir)
    try:
        await servers.wait_ready(server, 120)
        seeder = benchdb.DeviceSeeder(db_url)
        await seeder.discover()
        count = int(options.rate * options.seconds)
        alone, beside = benchdb.new_credentials(count), benchdb.new_credentials(count)
        await seeder.insert(alone + beside)
        base = f"http://127.0.0.1:{spec.port}"
        print(
            f"one worker ({options.hashing_threads} hashing threads), {options.rate:g} presses/s "
            f"for {options.seconds:g} s per phase"
        )
        describe(
            "alone", await press_phase(base, alone, rate=options.rate, seconds=options.seconds)
        )
        stop = asyncio.Event()
        flooding = asyncio.create_task(flood(base, senders=options.flood, stop=stop))
        await asyncio.sleep(1.0)  # the flood is under way
        started = time.perf_counter()
        timings = await press_phase(base, beside, rate=options.rate, seconds=options.seconds)
        stop.set()
        answers = await flooding
        elapsed = time.perf_counter() - started + 1.0
        describe(f"beside {options.flood} sign-in senders", timings)
        hashed = answers[400] + answers[200]
        print(
            f"  flood answers {dict(sorted(answers.items()))}: {hashed / elapsed:.1f} password "
            "checks/s (each one argon2 verification)"
        )
    finally:
        server.stop()
        await benchdb.drop_database(options.admin_url, database)
        print(f"database {database} dropped; server log in {workdir}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="presses per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase")
    parser.add_argument("--flood", type=int, default=50, help="concurrent sign-in senders")
    parser.add_argument("--hashing-threads", type=int, default=2, help="the server's setting")
    parser.add_argument("--admin-url", default="postgresql://root@127.0.0.1:5432/postgres")
    servers.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()

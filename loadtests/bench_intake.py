"""Open-loop benchmark of Sigap's alert intake (POST /v1/alerts) against a minimal yardstick.

Method
------
A throw-away PostgreSQL database is created on the shared server and dropped at the end, even
on failure. Each target runs alone, as a subprocess with the same uvicorn settings and the same
database pool size:

* ``sigap``: ``python -m app.cli serve`` (migrates and loads reference data on first start).
  Devices are bulk-inserted straight into ``device`` (COPY) before each step, so every request
  is a first press from its own device: the 201 path, never a join.
* ``yardstick``: ``loadtests/yardstick_app.py``, one durable INSERT per request.

The load generator runs in this process (a different process from the servers) and is open
loop: request *i* of a step is due at ``t0 + i / rate`` and its latency is measured from that
scheduled time, so queueing counts. Rates are stepped upward; each step has a short warm-up at
its rate (not counted) followed by ``--step-seconds`` of measurement. Stepping stops after the
first failing step. A step passes when it has no errors (non-2xx or transport), p99 < 200 ms and
an achieved rate of at least 95 % of the offered rate; the *sustained rate* of a target is its
highest passing step. The disk under PostgreSQL may stall WAL flushes for 100-300 ms at random
(virtual disks do): a side connection commits a row every 50 ms during each step, and a step that
failed on p99 alone (no errors, rate achieved) while one of those commits took >= 100 ms is run
again (``--stall-retries``, default 1; 0 gives the strict procedure). Every attempt is printed.

After each run, every 201's id is looked up in the database: lost and duplicated alerts must be 0,
and for Sigap each alert must have its location, idempotency record and outbox event.

CPU used during each measured step is read from /proc: the server's processes, PostgreSQL
backends of the benchmark database (+ the rest of PostgreSQL), the generator itself, and any
other busy CPU on the machine, so one can see what saturated.

Output
------
The command line, the machine facts, then one line per step::

    rate/s  achieved  ok  err  p50  p90  p99  max (ms)  lag  commit | CPU during the step  verdict

``lag`` is the generator's worst lateness in sending (ms); ``commit`` the worst latency (ms) of a
one-row commit made every 50 ms on a side connection during the step (a disk flush stall holds
every committing transaction at once and shows there); CPU figures are % of one core
(``srv``: server, ``pg``: benchmark-database backends + the rest of PostgreSQL, ``gen``:
generator, ``oth``: everything else) and ``idle`` is the machine's idle share of all cores.
Then the verification and a summary: sustained rates, their ratio (target >= 0.5), latencies at
Sigap's sustained rate and what saturated. The figures are also saved as JSON.

Run ``.venv/bin/python loadtests/bench_intake.py --quick`` (about a minute) or without
``--quick`` for the full run (a few minutes). See loadtests/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import shlex
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import benchdb
import openloop
import procstat
import servers
import uvloop

DEFAULT_RATES = (25, 50, 100, 150, 200, 300, 400, 600, 800, 1000, 1500, 2000, 2500, 3000)
QUICK_RATES = (50, 100, 200, 400, 800, 1600, 2400, 3200)
P99_LIMIT_MS = 200.0
MIN_ACHIEVED = 0.95
STALL_RETRY_MS = 100.0  # a failing step whose side commits took this long is run again
MACHINE_IDLE_FLOOR = 20.0  # % of all cores: below it, processes queue for a CPU
GENERATOR_LATE_MS = 50.0  # sending this late means the generator itself was short of CPU
JAKARTA_BBOX = ((-6.36, -6.10), (106.70, 106.97))  # mainland lat, lon ranges
RESULTS_DIR = Path(__file__).resolve().parent / "results"


# ---------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    targets: tuple[str, ...]
    rates: tuple[float, ...]
    step_s: float
    warmup_s: float
    workers: int
    pool_size: int
    max_overflow: int
    client: str
    max_connections: int
    timeout_s: float
    admin_url: str
    ready_timeout_s: float
    commit_probe_s: float
    stall_retries: int
    json_path: Path | None
    sigap_role: str = "all"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Open-loop benchmark of POST /v1/alerts against a minimal yardstick.",
    )
    parser.add_argument(
        "--targets",
        default="sigap,yardstick",
        help="comma-separated, run in this order [%(default)s]",
    )
    parser.add_argument("--rates", help=f"requests/s per step [{_csv(DEFAULT_RATES)}]")
    parser.add_argument("--step-seconds", type=float, help="measured seconds per step [10]")
    parser.add_argument("--warmup-seconds", type=float, help="warm-up per step, not counted [2]")
    parser.add_argument(
        "--quick", action="store_true", help=f"3 s steps, rates {_csv(QUICK_RATES)}"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn workers per server [%(default)s]"
    )
    parser.add_argument(
        "--pool-size", type=int, default=5, help="database pool per worker [%(default)s]"
    )
    parser.add_argument(
        "--max-overflow", type=int, default=5, help="extra connections per worker [%(default)s]"
    )
    parser.add_argument(
        "--stall-retries",
        type=int,
        default=1,
        help=f"run a step that failed on p99 alone again (up to N times) when a side commit "
        f"took >= {STALL_RETRY_MS:g} ms during it (a disk stall); 0 = strict [%(default)s]",
    )
    parser.add_argument(
        "--client", choices=("raw", "httpx"), default="raw", help="generator [%(default)s]"
    )
    parser.add_argument(
        "--max-connections", type=int, default=512, help="generator's cap [%(default)s]"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="per-request timeout, s [%(default)s]"
    )
    parser.add_argument(
        "--pg-admin-url",
        default="postgresql://root@127.0.0.1:5432/postgres",
        help="creates and drops the benchmark database [%(default)s]",
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=300.0,
        help="how long a server may take to start, s [%(default)s]",
    )
    parser.add_argument(
        "--sigap-role",
        choices=("all", "intake"),
        default="all",
        help="all: one Sigap process does everything; intake: the measured process serves "
        "presses only (`sigap serve --role intake`) while a `--role worker` process beside it "
        "routes them (its CPU shows as `oth`) [%(default)s]",
    )
    parser.add_argument("--json", help="where to save the figures [loadtests/results/...]")
    parser.add_argument("--no-json", action="store_true", help="do not save the figures")
    return parser


def parse_options(argv: Sequence[str]) -> Options:
    parser = _parser()
    args = parser.parse_args(argv)

    targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
    if not targets or not set(targets) <= {"sigap", "yardstick"}:
        parser.error("--targets takes sigap and/or yardstick")
    rates = tuple(float(r) for r in args.rates.split(",")) if args.rates else None
    if rates is not None and (not rates or min(rates) <= 0):
        parser.error("--rates takes positive numbers")
    quick = args.quick
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = None if args.no_json else Path(args.json or RESULTS_DIR / f"intake-{stamp}.json")
    return Options(
        targets=targets,
        rates=rates or (QUICK_RATES if quick else DEFAULT_RATES),
        step_s=args.step_seconds or (3.0 if quick else 10.0),
        warmup_s=(1.0 if quick else 2.0) if args.warmup_seconds is None else args.warmup_seconds,
        workers=args.workers,
        pool_size=args.pool_size,
        max_overflow=args.max_overflow,
        client=args.client,
        max_connections=args.max_connections,
        timeout_s=args.timeout,
        admin_url=args.pg_admin_url,
        ready_timeout_s=args.ready_timeout,
        commit_probe_s=2.0 if quick else 5.0,
        stall_retries=args.stall_retries,
        json_path=json_path,
        sigap_role=args.sigap_role,
    )


def _csv(values: Sequence[float]) -> str:
    return ",".join(f"{v:g}" for v in values)


# ---------------------------------------------------------------------------- requests


def press_body(rng: random.Random, at: datetime) -> bytes:
    """A phone's press at ``at``, somewhere in mainland Jakarta."""
    stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    (lat_lo, lat_hi), (lon_lo, lon_hi) = JAKARTA_BBOX
    document = {
        "pressed_at": stamp,
        "location": {
            "lat": round(rng.uniform(lat_lo, lat_hi), 6),
            "lon": round(rng.uniform(lon_lo, lon_hi), 6),
            "accuracy_m": round(rng.uniform(5, 50), 1),
            "fix_at": stamp,
            "source": "gps",
        },
        "reporter": "victim",
        "silent": True,
    }
    return json.dumps(document).encode()


def build_presses(
    path: str, credentials: Sequence[str], rate: float, rng: random.Random
) -> list[openloop.PreparedRequest]:
    """One press per credential; ``pressed_at`` is the wall-clock time it is due (about)."""
    start = datetime.now(UTC) + timedelta(milliseconds=50)
    return [
        openloop.PreparedRequest(
            path=path,
            headers=(
                ("Authorization", f"Bearer {credential}"),
                ("Idempotency-Key", str(uuid.uuid4())),
                ("Content-Type", "application/json"),
            ),
            body=press_body(rng, start + timedelta(seconds=index / rate)),
        )
        for index, credential in enumerate(credentials)
    ]


def connection_limit(rate: float, cap: int) -> int:
    """Enough connections for every request to be in flight for 0.5 s (> the 200 ms p99 bar),
    so the generator's own queue never decides whether a step passes."""
    return max(16, min(cap, math.ceil(rate * 0.5)))


# ---------------------------------------------------------------------------- steps


@dataclass
class StepRecord:
    stats: openloop.StepStats
    cpu: procstat.CpuUsage
    passed: bool
    gen_us_per_request: float
    commit_max_ms: float
    commit_stalls: int
    attempt: int = 1
    superseded: bool = False
    """A failing attempt run again because the database's commits stalled during it."""

    def cpu_ms_per_request(self, group: str) -> float:
        """CPU milliseconds ``group`` spent per measured request."""
        busy_s = self.cpu.groups[group] / 100 * self.cpu.seconds
        return 1000 * busy_s / max(1, self.stats.sent)

    @property
    def generator_late(self) -> bool:
        """The generator fell behind: its own figures, the side commits' too, are suspect."""
        return self.stats.lag_max_ms >= GENERATOR_LATE_MS

    @property
    def failed_by_stall(self) -> bool:
        """Failed on p99 alone while the database's commits stalled: worth running again.
        A throughput shortfall or errors are not what a passing stall does."""
        s = self.stats
        return (
            not self.passed
            and self.commit_max_ms >= STALL_RETRY_MS
            and not self.generator_late
            and s.errors == 0
            and s.achieved >= MIN_ACHIEVED * s.offered
        )

    def line(self) -> str:
        s = self.stats
        verdict = "pass" if self.passed else "FAIL " + _why(s)
        return (
            f"{s.offered:7g} {s.achieved:8.1f} {s.ok:6d} {s.errors:5d} "
            f"{s.p50_ms:7.1f} {s.p90_ms:7.1f} {s.p99_ms:7.1f} {s.max_ms:7.1f} "
            f"{s.lag_max_ms:5.1f} {self.commit_max_ms:6.1f} | {self.cpu.describe()} | {verdict}"
        )


STEP_HEADER = (
    " rate/s achieved     ok   err     p50     p90     p99     max   lag commit | "
    "CPU during the step (% of one core; idle: % of all cores)"
)


def _why(stats: openloop.StepStats) -> str:
    reasons = []
    if stats.errors:
        kinds = ", ".join(
            f"{k}x{v}" for k, v in sorted(stats.statuses.items()) if not k.startswith("2")
        )
        reasons.append(f"errors ({kinds})")
    if stats.p99_ms >= P99_LIMIT_MS:
        reasons.append(f"p99 >= {P99_LIMIT_MS:g} ms")
    if stats.achieved < MIN_ACHIEVED * stats.offered:
        reasons.append(f"achieved < {MIN_ACHIEVED:.0%}")
    return "; ".join(reasons)


@dataclass
class TargetRun:
    name: str
    command: str
    ready_s: float = 0.0
    steps: list[StepRecord] = field(default_factory=list)
    answered_ids: list[str] = field(default_factory=list)
    abandoned: int = 0
    verification: benchdb.Verification | None = None

    def sustained(self) -> StepRecord | None:
        passing = [s for s in self.steps if s.passed]
        return passing[-1] if passing else None

    def first_failure(self) -> StepRecord | None:
        return next((s for s in self.steps if not s.passed and not s.superseded), None)

    def retried(self) -> int:
        return sum(s.superseded for s in self.steps)


class Stepper:
    """Runs the steps of one target against its running server."""

    def __init__(
        self,
        options: Options,
        server: servers.RunningServer,
        database: str,
        db_url: str,
        seeder: benchdb.DeviceSeeder | None,
    ) -> None:
        self.options, self.server, self.seeder = options, server, seeder
        self.database, self.db_url = database, db_url
        self.rng = random.Random(20261123)

    async def run(self, record: TargetRun) -> None:
        for rate in self.options.rates:
            for attempt in range(1, self.options.stall_retries + 2):
                step = await self.step(rate, record)
                step.attempt = attempt
                record.steps.append(step)
                print(step.line(), flush=True)
                if not step.failed_by_stall or attempt > self.options.stall_retries:
                    break
                step.superseded = True
                print(
                    f"        (a lone commit took {step.commit_max_ms:.0f} ms during this step: "
                    "a disk flush stall; running the step again)",
                    flush=True,
                )
            if not step.passed:
                break

    async def step(self, rate: float, record: TargetRun) -> StepRecord:
        options = self.options
        warm_n = round(rate * options.warmup_s)
        measured_n = max(1, round(rate * options.step_s))
        credentials = benchdb.new_credentials(warm_n + measured_n)
        if self.seeder is not None:
            await self.seeder.insert(credentials)
        presses = build_presses(self.server.spec.press_path, credentials, rate, self.rng)
        client = openloop.make_client(
            options.client,
            "127.0.0.1",
            self.server.spec.port,
            limit=connection_limit(rate, options.max_connections),
            timeout_s=options.timeout_s,
        )
        prepared = [client.prepare(p) for p in presses]
        try:
            if warm_n:
                self._collect(await openloop.run_open_loop(client, prepared[:warm_n], rate), record)
            async with benchdb.CommitWatch(self.db_url) as watch:
                before = self._snapshot()
                cpu_before = time.process_time()
                run = await openloop.run_open_loop(client, prepared[warm_n:], rate)
                gen_cpu = time.process_time() - cpu_before
                cpu = procstat.CpuUsage.between(before, self._snapshot())
        finally:
            await client.close()
        self._collect(run, record)
        stats = openloop.StepStats.of(run, duration_s=options.step_s)
        passed = stats.passes(p99_limit_ms=P99_LIMIT_MS, min_achieved_fraction=MIN_ACHIEVED)
        return StepRecord(
            stats=stats,
            cpu=cpu,
            passed=passed,
            gen_us_per_request=1e6 * gen_cpu / max(1, len(run.outcomes)),
            commit_max_ms=watch.max_ms,
            commit_stalls=watch.stalls,
        )

    def _snapshot(self) -> procstat.Snapshot:
        return procstat.Snapshot.take(
            server_pid=self.server.pid, database=self.database, wall=time.monotonic()
        )

    @staticmethod
    def _collect(run: openloop.RunResult, record: TargetRun) -> None:
        for outcome in run.outcomes:
            if outcome.status == 201 and outcome.location:
                record.answered_ids.append(outcome.location.rsplit("/", 1)[-1])
            elif outcome.status == openloop.TRANSPORT_ERROR:
                record.abandoned += 1


# ---------------------------------------------------------------------------- targets


async def run_target(
    name: str, options: Options, database: str, db_url: str, workdir: Path
) -> TargetRun:
    make_spec = servers.sigap_spec if name == "sigap" else servers.yardstick_spec
    spec = make_spec(
        db_url=db_url,
        workers=options.workers,
        pool_size=options.pool_size,
        max_overflow=options.max_overflow,
    )
    worker_spec = None
    if name == "sigap" and options.sigap_role == "intake":
        spec, worker_spec = servers.with_roles(spec)
    record = TargetRun(name=name, command=spec.command())
    print(f"\n== {name} ==\n$ {record.command}", flush=True)
    server = servers.launch(spec, workdir)
    worker = None
    try:
        record.ready_s = await servers.wait_ready(server, options.ready_timeout_s)
        print(f"ready after {record.ready_s:.1f} s (pid {server.pid}, log {server.log})")
        if worker_spec is not None:
            worker = servers.launch(worker_spec, workdir)
            await servers.wait_ready(worker, options.ready_timeout_s)
            print(f"worker beside it: $ {worker_spec.command()} (log {worker.log})")
        seeder = None
        if name == "sigap":
            seeder = benchdb.DeviceSeeder(db_url)
            await seeder.discover()
        print(STEP_HEADER, flush=True)
        await Stepper(options, server, database, db_url, seeder).run(record)
        if record.abandoned:
            await asyncio.sleep(min(options.timeout_s, 15))  # let abandoned requests finish
        verify = benchdb.verify_sigap if name == "sigap" else benchdb.verify_yardstick
        record.verification = await verify(db_url, record.answered_ids, abandoned=record.abandoned)
        print(record.verification.describe(), flush=True)
    finally:
        if record.ready_s and server.process.poll() is not None:
            print(f"{name} died (exit code {server.process.returncode}):\n{server.log_tail()}")
        server.stop()
        if worker is not None:
            worker.stop()
    return record


# ---------------------------------------------------------------------------- report


def machine_facts() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    versions = {
        pkg: _version(pkg)
        for pkg in ("uvicorn", "uvloop", "httptools", "fastapi", "sqlalchemy", "asyncpg", "httpx")
    }
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 2**20, 1),
        "load_average": os.getloadavg(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def print_facts(facts: dict[str, Any], pg: benchdb.PgFacts, options: Options) -> None:
    load = ", ".join(f"{x:.2f}" for x in facts["load_average"])
    packages = " ".join(f"{k} {v}" for k, v in facts["packages"].items())
    print(
        f"machine: nproc {facts['nproc']} ({facts['usable_cpus']} usable), {facts['cpu_model']}, "
        f"{facts['memory_gib']} GiB, Linux {facts['kernel']}, load average {load}\n"
        f"python {facts['python']}: {packages}\n"
        f"{pg.describe()}\n"
        f"plan: rates {_csv(options.rates)}/s, {options.warmup_s:g} s warm-up + "
        f"{options.step_s:g} s measured per step, {options.workers} worker(s), pool "
        f"{options.pool_size}+{options.max_overflow} per worker, {options.client} client, "
        f"pass = 0 errors, p99 < {P99_LIMIT_MS:g} ms, achieved >= {MIN_ACHIEVED:.0%} of offered; "
        f"a step failing on p99 alone with a commit stall >= {STALL_RETRY_MS:g} ms is re-run up to "
        f"{options.stall_retries} time(s)",
        flush=True,
    )


def saturation(record: StepRecord, workers: int) -> str:
    """What ran out at this step, judged from where the CPU went."""
    cpu = record.cpu
    server_per_worker = cpu.groups["server"] / workers
    findings = []
    if server_per_worker >= 85:
        findings.append(f"server CPU-bound ({server_per_worker:.0f}% of a core per worker)")
    if cpu.groups["pg_bench"] >= 85:
        findings.append(f"PostgreSQL backends busy ({cpu.groups['pg_bench']:.0f}% of a core)")
    if cpu.machine_idle < MACHINE_IDLE_FLOOR:
        findings.append(
            f"machine CPU (nearly) exhausted (idle {cpu.machine_idle:.0f}% of "
            f"{cpu.cores} cores): server, PostgreSQL and generator compete for them"
        )
    if cpu.groups["generator"] >= 60 or record.generator_late:
        findings.append(
            f"generator fell behind ({cpu.groups['generator']:.0f}% of a core, sent up to "
            f"{record.stats.lag_max_ms:.0f} ms late): the figures may understate the server"
        )
    elif record.commit_max_ms >= STALL_RETRY_MS:
        findings.append(
            f"database commits stalled (a lone commit took up to {record.commit_max_ms:.0f} ms; "
            f"{record.commit_stalls} probes > {benchdb.STALL_MS:g} ms)"
        )
    if not findings:
        findings.append(
            f"no CPU saturated (idle {cpu.machine_idle:.0f}%) and no commit stall seen: "
            "waiting on locks or the connection pool"
        )
    return "; ".join(findings)


def print_summary(runs: dict[str, TargetRun], options: Options) -> dict[str, Any]:
    print("\n== summary ==")
    rates: dict[str, float] = {}
    for name, run in runs.items():
        best, failure = run.sustained(), run.first_failure()
        rates[name] = best.stats.offered if best else 0.0
        bound = "" if failure else f" (never failed: >= {rates[name]:g}/s)"
        retried = f"; {run.retried()} step(s) re-run after a disk stall" if run.retried() else ""
        print(f"{name:9} sustained {rates[name]:g}/s{bound}{retried}")
        if best:
            s = best.stats
            print(
                f"          at {s.offered:g}/s: p50 {s.p50_ms:.1f} ms, p99 {s.p99_ms:.1f} ms; "
                f"{best.cpu.describe()}\n          CPU per request: server "
                f"{best.cpu_ms_per_request('server'):.2f} ms, PostgreSQL (benchmark database) "
                f"{best.cpu_ms_per_request('pg_bench'):.2f} ms, generator "
                f"{best.gen_us_per_request / 1000:.2f} ms"
            )
        limit = failure or (run.steps[-1] if run.steps else None)
        if limit:
            label = "first failing step" if failure else "highest step"
            print(
                f"          {label} {limit.stats.offered:g}/s: {saturation(limit, options.workers)}"
            )
    ratio = None
    if "sigap" in runs and rates.get("yardstick"):
        ratio = rates["sigap"] / rates["yardstick"]
        verdict = "meets" if ratio >= 0.5 else "BELOW"
        print(f"ratio sigap/yardstick = {ratio:.2f} ({verdict} the target of 0.5)")
    for run in runs.values():
        if run.verification:
            print(run.verification.describe())
    return {"sustained": rates, "ratio": ratio}


def save(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
    print(f"figures saved to {path}")


def run_payload(run: TargetRun) -> dict[str, Any]:
    return {
        "command": run.command,
        "ready_s": run.ready_s,
        "steps": [
            {
                **{k: v for k, v in asdict(s.stats).items() if k != "statuses"},
                "statuses": dict(s.stats.statuses),
                "passed": s.passed,
                "attempt": s.attempt,
                "superseded": s.superseded,
                "cpu": asdict(s.cpu),
                "generator_us_per_request": s.gen_us_per_request,
                "server_cpu_ms_per_request": s.cpu_ms_per_request("server"),
                "pg_cpu_ms_per_request": s.cpu_ms_per_request("pg_bench"),
                "commit_watch_max_ms": s.commit_max_ms,
                "commit_watch_stalls": s.commit_stalls,
            }
            for s in run.steps
        ],
        "verification": asdict(run.verification) if run.verification else None,
    }


# ---------------------------------------------------------------------------- main


async def bench(options: Options, command: str) -> int:
    facts = machine_facts()
    pg = await benchdb.pg_facts(options.admin_url)
    print_facts(facts, pg, options)
    if options.workers * (options.pool_size + options.max_overflow) > 60:
        print("warning: workers x (pool + overflow) > 60 on a server shared with others")
    database = await benchdb.create_database(options.admin_url)
    db_url = benchdb.database_url(options.admin_url, database)
    print(f"database: {database} (dropped at the end)")
    runs: dict[str, TargetRun] = {}
    not_started: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="sigap-bench-"))
    probe = None
    try:
        probe = await benchdb.probe_commits(db_url, seconds=options.commit_probe_s)
        print(probe.describe(), flush=True)
        for name in options.targets:
            try:
                runs[name] = await run_target(name, options, database, db_url, workdir)
            except servers.ServerFailed as exc:
                print(f"\n{name} was not measured: {exc}", flush=True)
                not_started.append(name)
    finally:
        await benchdb.drop_database(options.admin_url, database)
        print(f"database {database} dropped; server logs kept in {workdir}")
    summary = print_summary(runs, options)
    for name in not_started:
        print(f"{name:9} NOT MEASURED: the server did not start (see above)")
    if options.json_path:
        payload = {
            "command": command,
            "machine": facts,
            "postgresql": asdict(pg),
            "commit_probe": asdict(probe) if probe else None,
            "options": asdict(options),
            "targets": {name: run_payload(run) for name, run in runs.items()},
            "summary": summary,
            "not_started": not_started,
        }
        save(options.json_path, payload)
    if not_started:
        return 2
    verified = all(r.verification and r.verification.ok for r in runs.values())
    return 0 if verified else 1


async def _main(options: Options, command: str) -> int:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await bench(options, command)


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    command = shlex.join([sys.executable, sys.argv[0], *raw])
    print(f"$ {command}\nstarted {datetime.now(UTC).isoformat(timespec='seconds')}", flush=True)
    options = parse_options(raw)
    try:
        return uvloop.run(_main(options, command))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted (servers stopped, database dropped)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""One run of the fault harness, from an empty private cluster to a verdict and figures."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from app.config import SlaSettings
from loadtests.faults.checker import Verdict, check, expected_seqs, numbered_events
from loadtests.faults.clients import Follower, Phones, staff_token
from loadtests.faults.history import History, Unavailability, unavailability
from loadtests.faults.nemesis import FaultPlan, Nemesis
from loadtests.faults.proxy import FaultProxy
from loadtests.faults.seed import PASSWORD, seed_devices, seed_staff
from tests.pgcluster import PgCluster, free_port
from tests.system.server import REPO, server_env


@dataclass
class Config:
    rate_per_min: float = 2000.0
    duration_s: float = 240.0
    workers: int = 3
    counselors: int = 3
    plan: FaultPlan = field(default_factory=FaultPlan)
    control: bool = False
    """The negative control: presses answered before commit, held 1 s, one crash inside."""
    hold_s: float = 1.0
    give_up_s: float = 60.0
    ack_target_s: float = 4.0
    """The acknowledgement SLA target: nobody accepts, so every alert's clock must fire once."""
    sla_grace_s: float = 10.0
    seed: int = 7


@dataclass
class Report:
    config: Config
    history: History
    verdict: Verdict
    outages: list[Unavailability]
    wall_s: float

    def lines(self) -> list[str]:
        counts = self.history.counts()
        attempts = sum(op.attempts for op in self.history.operations)
        out = [
            f"operations {len(self.history.operations)} ({attempts} requests): ok "
            f"{counts['ok']}, failed {counts['failed']}, unknown {counts['unknown']}",
            "checker: " + ", ".join(f"{k} {v}" for k, v in self.verdict.errors.items()),
            "facts: " + ", ".join(f"{k} {v}" for k, v in self.verdict.facts.items()),
        ]
        for name, examples in self.verdict.examples.items():
            out += [f"  {name}: {example}" for example in examples]
        by_kind: dict[str, list[Unavailability]] = {}
        for outage in self.outages:
            by_kind.setdefault(outage.fault.kind, []).append(outage)
        out.append("unavailability per fault (s without a 2xx from its start; recovery: from")
        out.append("its end to the next 2xx)")
        for kind, items in by_kind.items():
            worst = max(items, key=lambda u: u.unavailable_s)
            mean = sum(u.unavailable_s for u in items) / len(items)
            out.append(
                f"  {kind:9s} x{len(items):2d}: unavailable mean {mean:5.1f} max "
                f"{worst.unavailable_s:5.1f}; recovery max "
                f"{max(u.recovery_s for u in items):5.1f} ({worst.fault.detail})"
            )
        out.append(self.timeline())
        out.append(f"wall time {self.wall_s:.0f} s")
        return out

    def timeline(self, bucket_s: float = 10.0) -> str:
        """2xx answers per ``bucket_s`` of the load, faults marked: the shape of each outage and
        of the recovery after it."""
        if not self.history.operations:
            return "timeline: no operations"
        start = self.history.operations[0].due
        end = max([start, *self.history.successes])
        counts = [0] * (int((end - start) // bucket_s) + 1)
        for moment in self.history.successes:
            counts[int((moment - start) // bucket_s)] += 1
        marks: dict[int, str] = {}
        for fault in self.history.faults:
            index = int((fault.started_at - start) // bucket_s)
            marks[index] = marks.get(index, "") + fault.kind[0].upper()
        cells = [f"{n}{marks.get(i, '')}" for i, n in enumerate(counts)]
        return (
            f"timeline: 2xx per {bucket_s:.0f} s (C crash, K kill, L latency, R reset, "
            f"B blackhole): " + " ".join(cells)
        )


def _asyncpg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _server_env(config: Config, database_url: str) -> dict[str, str]:
    targets = dict(SlaSettings().targets_s)  # the whole dict: a partial one may replace it
    targets.update({"routing": 3.0, "acknowledgement": config.ack_target_s})
    env = server_env(database_url)
    env.update(
        {
            "SIGAP_SLA__TARGETS_S": json.dumps(targets),
            "SIGAP_SECURITY__ACCESS_TOKEN_TTL_S": "3600",
            "SIGAP_REALTIME__PRESENCE_REQUIRED": "false",
            "SIGAP_DB__POOL_SIZE": "4",
            "SIGAP_DB__MAX_OVERFLOW": "4",
            "PYTHONPATH": str(REPO),
        }
    )
    if config.control:
        env.update(
            {
                "SIGAP_ENVIRONMENT": "test",
                "SIGAP_DEV": "1",
                "SIGAP_UNSAFE_ANSWER_BEFORE_COMMIT_S": str(config.hold_s),
                "SIGAP_DB__POOL_SIZE": "8",
                "SIGAP_DB__MAX_OVERFLOW": "4",
            }
        )
    return env


async def _wait_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"sigap exited: {_tail(log)}")
            try:
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError(f"sigap not ready: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def _launch(config: Config, database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """Its own session, so stopping it reaches its uvicorn workers and nothing else."""
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port),
             "--workers", str(config.workers)],
            cwd=REPO, env=_server_env(config, database_url), stdout=sink,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


async def _head(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval("SELECT coalesce(max(seq), 0) FROM outbox_event"))
    finally:
        await connection.close()


async def _sockets_caught_up(
    url: str, followers: list[Follower], target: int, *, limit_s: float = 60
) -> float:
    """Seconds until every socket has every event it must get up to ``target`` (at most
    ``limit_s``): a socket still reading its backlog is lag; what is missing after that, the
    checker reports as a gap. A counselor's socket cannot be judged by its cursor (it sees only
    its own unit's events), so what each must have is read from the database."""
    began = time.monotonic()
    connection = await asyncpg.connect(url)
    try:
        events = await numbered_events(connection, target)
    finally:
        await connection.close()
    # Polls the followers' progress; they have no event to wait on for "has all of these".
    while time.monotonic() - began < limit_s:
        if all(set(expected_seqs(f, events)) <= f.received.keys() for f in followers):
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - began


async def _routing_drained(url: str, *, limit_s: float) -> float:
    """Seconds until no alert is waiting for its first routing decision (at most ``limit_s``)."""
    began = time.monotonic()
    waiting = "SELECT count(*) FROM alert a WHERE NOT EXISTS (SELECT 1 FROM routing_decision r WHERE r.alert_id = a.id)"  # noqa: E501
    while time.monotonic() - began < limit_s:
        try:
            connection = await asyncpg.connect(url)
            try:
                if not await connection.fetchval(waiting):
                    break
            finally:
                await connection.close()
        except (OSError, asyncpg.PostgresError):
            pass
        await asyncio.sleep(0.5)
    return time.monotonic() - began


async def run(config: Config, *, say: Callable[[str], None] = print) -> Report:
    began = time.monotonic()

    def note(line: str) -> None:
        say(f"[{time.monotonic() - began:5.1f} s] {line}")

    workdir = Path(tempfile.mkdtemp(prefix="sigap-faults-"))
    cluster = PgCluster()
    proxy: FaultProxy | None = None
    process: subprocess.Popen[bytes] | None = None
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        await asyncio.to_thread(cluster.start)
        direct_url = cluster.create_database("sigap_faults")
        database = direct_url.rsplit("/", 1)[1]
        proxy = FaultProxy("127.0.0.1", cluster.port)
        await proxy.start()
        proxied_url = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{database}"
        port = free_port()
        log = workdir / "sigap.log"
        process = _launch(config, proxied_url, port, log)
        await _wait_ready(port, process, log)
        base_url = f"http://127.0.0.1:{port}"
        operations = int(config.duration_s * config.rate_per_min / 60) + 1
        credentials = await seed_devices(_asyncpg_url(direct_url), operations)
        staff, locations = await seed_staff(_asyncpg_url(direct_url), counselors=config.counselors)
        note(
            f"cluster :{cluster.port}, proxy :{proxy.port}, sigap :{port} with {config.workers} "
            f"workers; {operations} phones, {len(staff)} staff sockets; log {log}"
        )

        def signer(username: str) -> Callable[[], asyncio.Future[str]]:
            return lambda: asyncio.ensure_future(staff_token(base_url, username, PASSWORD))

        followers = [
            Follower(
                s.username, f"ws://127.0.0.1:{port}/v1/stream", signer(s.username),
                unit_code=s.unit_code, sees_everything=s.role == "supervisor",
            )
            for s in staff
        ]
        tasks = [asyncio.create_task(f.run(stop)) for f in followers]
        async with asyncio.timeout(60):
            await asyncio.gather(*(f.ready.wait() for f in followers))

        history = History()
        phones = Phones(
            base_url, credentials, locations, history, rate=config.rate_per_min / 60,
            give_up_s=config.give_up_s, seed=config.seed,
        )
        nemesis = Nemesis(cluster, proxy, process.pid, history, say=note, seed=config.seed)
        pressing = asyncio.create_task(phones.run(config.duration_s))
        if config.control:
            await _crash_inside_the_window(nemesis, phones, config)
        else:
            lead = min(5.0, config.duration_s / 6)
            end_at = asyncio.get_running_loop().time() + config.duration_s - 5.0
            await nemesis.run(config.plan, start_after_s=lead, end_at=end_at)
        await pressing
        note(f"  load done: {history.counts()}; letting clocks fire and sockets catch up")
        if not config.control:  # the control only counts losses: no need to wait
            # Quiescence before the check: a backlog still being routed is lag, not a second or
            # missing decision; how long it takes is a figure (and bounded: a stuck dispatcher
            # still shows as ``routing``).
            drained_in = await _routing_drained(_asyncpg_url(direct_url), limit_s=90)
            note(f"  every alert routed {drained_in:.1f} s after the load ended")
            await asyncio.sleep(config.ack_target_s + config.sla_grace_s + 1)
        target = await _head(_asyncpg_url(direct_url))
        if not config.control:
            caught_up = await _sockets_caught_up(_asyncpg_url(direct_url), followers, target)
            note(f"  every socket had its events {caught_up:.1f} s after the head was read")
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        verdict = await check(
            _asyncpg_url(direct_url), history, credentials, followers, stream_until=target,
            sla_grace_s=config.sla_grace_s,
        )
        # The deployment must still be there: a supervisor restarting Sigap would hide this.
        verdict.add("server_died", [] if process.poll() is None else [_tail(log)[-500:]])
        return Report(config, history, verdict, unavailability(history), time.monotonic() - began)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        if process is not None:
            # In a thread: the proxy runs on this loop, and the server's shutdown closes its
            # database connections through it (a blocking wait stalled both for 20 s).
            await asyncio.to_thread(_stop, process)
        if proxy is not None:
            await proxy.stop()
        await asyncio.to_thread(cluster.cleanup)


async def _crash_inside_the_window(nemesis: Nemesis, phones: Phones, config: Config) -> None:
    """Crash while 2xx answers are arriving: the presses answered in the last ``hold_s`` are
    not committed yet."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(min(5.0, config.duration_s / 3))
    while loop.time() - phones.last_ok_at > 0.2:  # noqa: ASYNC110 (a time, not an event)
        await asyncio.sleep(0.02)
    await nemesis.do("crash", config.plan)

"""The benchmark's throw-away PostgreSQL database: create, seed devices, verify, drop.

Devices are written straight into Sigap's ``device`` table with ``COPY`` so that registration is
not part of what is measured. The column list is read from ``information_schema`` at run time;
a NOT NULL column without a default that this module does not know how to fill is an error.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import statistics
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

CREDENTIAL_PREFIX = "sgd_"


def new_credentials(count: int) -> list[str]:
    return [CREDENTIAL_PREFIX + secrets.token_urlsafe(32) for _ in range(count)]


def database_url(admin_url: str, name: str) -> str:
    """The admin URL with its database replaced by ``name``."""
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


async def create_database(admin_url: str) -> str:
    name = f"sigap_bench_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return name


async def drop_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@dataclass(frozen=True)
class PgFacts:
    version: str
    settings: dict[str, str]
    connections_in_use: int

    def describe(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.settings.items())
        return (
            f"PostgreSQL {self.version} ({settings}; "
            f"{self.connections_in_use} connections in use before the run)"
        )


_SHOWN = (
    "max_connections",
    "shared_buffers",
    "synchronous_commit",
    "fsync",
    "wal_sync_method",
    "commit_delay",
)


async def pg_facts(url: str) -> PgFacts:
    connection = await asyncpg.connect(url)
    try:
        version = await connection.fetchval("SHOW server_version")
        settings = {name: await connection.fetchval(f"SHOW {name}") for name in _SHOWN}
        in_use = await connection.fetchval("SELECT count(*) FROM pg_stat_activity")
    finally:
        await connection.close()
    return PgFacts(version=version, settings=settings, connections_in_use=in_use)


@dataclass(frozen=True)
class CommitProbe:
    """Latency of lone durable commits (one INSERT each, WAL flushed) on this machine's disk."""

    commits: int
    median_ms: float
    p99_ms: float
    max_ms: float
    stalls: int
    """Commits that took more than ``STALL_MS``: the disk's flush hiccups."""

    def describe(self) -> str:
        return (
            f"durable commit (INSERT + WAL flush, one connection, {self.commits} in a row): "
            f"median {self.median_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, max {self.max_ms:.1f} ms, "
            f"{self.stalls} stalls > {STALL_MS:g} ms"
        )


STALL_MS = 10.0


async def probe_commits(url: str, *, seconds: float) -> CommitProbe:
    """Commit one-row INSERTs back to back for ``seconds`` in a scratch (logged) table."""
    connection = await asyncpg.connect(url)
    timings: list[float] = []
    try:
        await connection.execute("CREATE TABLE bench_commit_probe (n int)")
        deadline = time.perf_counter() + seconds
        while (started := time.perf_counter()) < deadline:
            await connection.execute("INSERT INTO bench_commit_probe VALUES (1)")
            timings.append((time.perf_counter() - started) * 1000)
        await connection.execute("DROP TABLE bench_commit_probe")
    finally:
        await connection.close()
    timings.sort()
    return CommitProbe(
        commits=len(timings),
        median_ms=statistics.median(timings),
        p99_ms=timings[int(0.99 * (len(timings) - 1))],
        max_ms=timings[-1],
        stalls=sum(t > STALL_MS for t in timings),
    )


class CommitWatch:
    """Commits a one-row INSERT every ``interval_s`` during a step, on its own connection.

    Its worst latency tells whether the database's commits (WAL flushes) stalled while the
    servers were being measured: a disk hiccup holds every committing transaction at once.
    """

    def __init__(self, url: str, *, interval_s: float = 0.05) -> None:
        self.url, self.interval_s = url, interval_s
        self.timings: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._connection: asyncpg.Connection | None = None

    async def __aenter__(self) -> CommitWatch:
        self._connection = await asyncpg.connect(self.url)
        await self._connection.execute("CREATE TABLE IF NOT EXISTS bench_commit_watch (n int)")
        self._task = asyncio.create_task(self._beat(self._connection))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close()

    async def _beat(self, connection: asyncpg.Connection) -> None:
        while True:
            started = time.perf_counter()
            await connection.execute("INSERT INTO bench_commit_watch VALUES (1)")
            self.timings.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(self.interval_s)

    @property
    def max_ms(self) -> float:
        return max(self.timings, default=0.0)

    @property
    def stalls(self) -> int:
        return sum(t > STALL_MS for t in self.timings)


class DeviceSeeder:
    """Bulk-inserts devices with known credentials into Sigap's ``device`` table."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.columns: list[str] = []

    async def discover(self) -> None:
        connection = await asyncpg.connect(self.url)
        try:
            rows = await connection.fetch(
                """
                SELECT column_name, is_nullable, column_default
                FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = 'device'
                ORDER BY ordinal_position
                """
            )
        finally:
            await connection.close()
        if not rows:
            raise RuntimeError("Sigap's database has no device table: did the server migrate it?")
        unknown = [
            r["column_name"]
            for r in rows
            if r["is_nullable"] == "NO"
            and r["column_default"] is None
            and r["column_name"] not in _REQUIRED_VALUES
        ]
        if unknown:
            raise RuntimeError(f"device has NOT NULL columns this benchmark cannot fill: {unknown}")
        # Columns with a default the benchmark does not set are left out of the COPY, so the
        # database fills them (a new NOT NULL column with a default, e.g. device.unvetted).
        self.columns = [
            r["column_name"]
            for r in rows
            if r["column_name"] in _SET_VALUES or r["column_default"] is None
        ]

    async def insert(self, credentials: Iterable[str]) -> int:
        now = datetime.now(UTC)
        records = [self._record(credential, now) for credential in credentials]
        connection = await asyncpg.connect(self.url)
        try:
            await connection.copy_records_to_table("device", records=records, columns=self.columns)
        finally:
            await connection.close()
        return len(records)

    def _record(self, credential: str, now: datetime) -> tuple[Any, ...]:
        known: dict[str, Any] = {
            "id": uuid.uuid4(),
            "credential_hash": hashlib.sha256(credential.encode()).hexdigest(),
            "platform": "android",
            "app_version": "loadtest",
            "created_at": now,
            "pin_failures": 0,
        }
        return tuple(known.get(column) for column in self.columns)


_REQUIRED_VALUES = frozenset({"id", "credential_hash", "created_at", "pin_failures"})
_SET_VALUES = _REQUIRED_VALUES | {"platform", "app_version"}


@dataclass(frozen=True)
class Verification:
    """Rows found after a run compared with the 201 answers the generator received."""

    target: str
    created: int
    acknowledged_ids: int
    rows: int
    lost: int
    unexpected: int
    duplicates: int
    abandoned: int
    related: dict[str, int]

    @property
    def ok(self) -> bool:
        counts_match = all(v == self.rows for v in self.related.values())
        # Requests the generator gave up on may still have been committed: rows beyond the
        # 201s are acceptable up to that number, a missing acknowledged row never is.
        return (
            self.lost == 0
            and self.duplicates == 0
            and self.unexpected <= self.abandoned
            and counts_match
        )

    def describe(self) -> str:
        related = "".join(f", {name} rows {count}" for name, count in self.related.items())
        verdict = "OK" if self.ok else "MISMATCH"
        note = ""
        if self.unexpected and self.abandoned:
            note = (
                f" ({self.abandoned} requests were abandoned by the generator after its "
                "timeout; the server may still have committed them)"
            )
        return (
            f"verify {self.target}: 201 answers {self.created}, distinct ids answered "
            f"{self.acknowledged_ids}, rows {self.rows}, lost {self.lost}, unexpected "
            f"{self.unexpected}, duplicates {self.duplicates}{related} -> {verdict}{note}"
        )


async def verify_sigap(url: str, answered: list[str], *, abandoned: int) -> Verification:
    """Every 201's alert id must be in ``alert`` once, with its location, key and event."""
    connection = await asyncpg.connect(url)
    try:
        ids = {str(r["id"]) for r in await connection.fetch("SELECT id FROM alert")}
        duplicates = await connection.fetchval(
            "SELECT count(*) - count(DISTINCT device_id) FROM alert"
        )
        related = {
            "alert_location": await connection.fetchval(
                "SELECT count(DISTINCT alert_id) FROM alert_location"
            ),
            "idempotency_record": await connection.fetchval(
                "SELECT count(*) FROM idempotency_record"
            ),
            "outbox alert.received": await connection.fetchval(
                "SELECT count(*) FROM outbox_event WHERE event_type = 'alert.received'"
            ),
        }
    finally:
        await connection.close()
    return _compare("sigap", answered, ids, duplicates, related, abandoned)


async def verify_yardstick(url: str, answered: list[str], *, abandoned: int) -> Verification:
    connection = await asyncpg.connect(url)
    try:
        keys = {r["key"] for r in await connection.fetch("SELECT key FROM yardstick_alert")}
    finally:
        await connection.close()
    return _compare("yardstick", answered, keys, 0, {}, abandoned)


def _compare(
    target: str,
    answered: list[str],
    stored: set[str],
    duplicates: int,
    related: dict[str, int],
    abandoned: int,
) -> Verification:
    acknowledged = set(answered)
    return Verification(
        target=target,
        created=len(answered),
        acknowledged_ids=len(acknowledged),
        rows=len(stored),
        lost=len(acknowledged - stored),
        unexpected=len(stored - acknowledged),
        duplicates=duplicates + (len(answered) - len(acknowledged)),
        abandoned=abandoned,
        related=related,
    )

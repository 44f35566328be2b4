"""Test fixtures: a real database (SQLite file or a throw-away PostgreSQL database), migrated
once per run with the shipped reference data and a synthetic second region; a frozen clock; and an
HTTP client on the ASGI app. Each test starts from empty operational tables.

Choose the backend with SIGAP_TEST_BACKEND=sqlite|postgresql (``./test`` runs both).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.clock import FrozenClock
from app.config import Settings
from app.context import AppContext
from app.db import create_engine, create_sessionmaker
from app.main import build_context, create_app, start
from app.migrate import upgrade
from app.notify import RecordingProvider
from app.realtime.presence import PresenceTracker
from app.reference.loader import load_all
from tests.burner import burning
from tests.helpers import OPS_TOKEN
from tests.pgcluster import PgCluster

REPO = Path(__file__).resolve().parent.parent
TEST_REGION = REPO / "tests" / "fixtures" / "regions" / "test-island"
BACKEND = os.environ.get("SIGAP_TEST_BACKEND", "sqlite")
PG_ADMIN_URL = os.environ.get("SIGAP_TEST_PG_URL", "postgresql://root@127.0.0.1:5432/postgres")
START = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 in Jakarta, a Monday

AUDIT_CHECKPOINTS = Path(tempfile.gettempdir()) / f"sigap-test-audit-{os.getpid()}.jsonl"
OPERATIONAL_TABLES = (
    "attention_item",
    "webhook_delivery",
    "webhook_endpoint",
    "webhook_cursor",
    "inbound_receipt",
    "partner_status",
    "channel_alert",
    "sla_clock",
    "case_file",
    "staff_presence",
    "notification",
    "notification_budget",
    "alert_note",
    "dispatch_task",
    "assignment",
    "routing_decision",
    "shift",
    "break_glass_grant",
    "audit_entry",
    "audit_seal",
    "outbox_event",
    "idempotency_record",
    "alert_location",
    "alert",
    "rate_limit_counter",
    "refresh_token",
    "sign_in_throttle",
    "sign_in_unlock",
    "staff_user",
    "integrator_client",
    "device_stream",
    "device",
)


def pytest_report_header() -> str:
    return f"sigap test backend: {BACKEND}"


async def create_pg_database(prefix: str = "sigap_test") -> str:
    """A fresh database on the shared server; returns its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return str(make_url(PG_ADMIN_URL).set(database=name))


async def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "dev": True,
        "environment": "test",
        "security": {
            "secret_key": "test-secret-key-" + "x" * 40,
            "encryption_keys": "t1:" + "A" * 43,
            # Cheap hashing: the suite checks behaviour, not the cost parameters.
            "argon2_time_cost": 1,
            "argon2_memory_cost_kib": 64,
            "argon2_parallelism": 1,
            # Never beside a developer's own var/ database (the default on PostgreSQL): its
            # checkpoints would not match the seals of a test database.
            "audit_checkpoint_file": str(AUDIT_CHECKPOINTS),
        },
        "intake": {"registrations_per_network_per_hour": 10_000},
        "geo": {"extra_region_dirs": [str(TEST_REGION)]},
        "db": {"pool_size": 5, "max_overflow": 5},
        # Rosters alone put people on duty, unless a test is about live console presence.
        "realtime": {"presence_required": False},
        "ops": {"metrics_token": OPS_TOKEN},
    }
    for key, value in overrides.items():
        if isinstance(value, dict):
            values[key] = {**values.get(key, {}), **value}
        else:
            values[key] = value
    return Settings(**values)


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    if BACKEND == "postgresql":
        url = await create_pg_database()
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'sigap.db'}"
    settings = make_settings(url)
    await upgrade(settings)
    engine = create_engine(settings, pool_size=1)
    async with create_sessionmaker(engine)() as session:
        await load_all(session, extra_dirs=settings.geo.extra_region_dirs, now=START)
        await session.commit()
    await engine.dispose()
    yield url
    if BACKEND == "postgresql":
        await drop_pg_database(url)


@pytest.fixture(scope="session")
async def base_context(database_url: str) -> AsyncIterator[AppContext]:
    context = build_context(make_settings(database_url), clock=FrozenClock(START))
    await start(context)
    yield context
    await context.engine.dispose()


@pytest.fixture
def private_cluster() -> Iterator[PgCluster]:
    """A private PostgreSQL cluster of this test's own (tests/pgcluster.py), deleted after it:
    for tests that crash or stop the database, which the shared server must never be."""
    if BACKEND != "postgresql":
        pytest.skip("crashing a database server needs PostgreSQL; the SQLite suite has none")
    with PgCluster() as cluster:
        yield cluster


@pytest.fixture
def burner() -> Iterator[None]:
    """One core kept busy by another process for the test's duration (tests/burner.py)."""
    with burning(1):
        yield


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def context(base_context: AppContext, clock: FrozenClock) -> AsyncIterator[AppContext]:
    context = replace(
        base_context,
        clock=clock,
        loop_heartbeats={},
        loop_errors={},
        set_aside={},
        notifiers=[RecordingProvider()],
        # Consoles seen by an earlier test's server are not this test's (their staff rows are
        # gone: a flush of them would fail on the foreign key).
        presence_tracker=PresenceTracker(),
    )
    yield context
    await truncate(context)


async def truncate(context: AppContext) -> None:
    async with context.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                text(f"TRUNCATE {', '.join(OPERATIONAL_TABLES)} RESTART IDENTITY")
            )
        else:
            for table in OPERATIONAL_TABLES:
                await connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def client(context: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(context=context, run_loops=False)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sigap.test") as http:
        yield http

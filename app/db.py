"""Engine and session factories.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL`` and opens every
transaction with ``BEGIN IMMEDIATE``: writers queue on the database lock instead of failing when
a read transaction later tries to write. PostgreSQL uses asyncpg with a small pool (the shared
server allows 100 connections in all) and timeouts, so an unreachable database turns into a quick
503 rather than a hung request.

Waiting is not failing: under a burst a request queues for a pooled connection (FIFO) and, on
SQLite, then for the write lock (busy timeout), as long as the request lives (the pool wait
outwaits the phone). Only ``is_outage`` errors, a database that cannot be reached or does not
answer, become a 503.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry

from app.config import Settings
from app.security.redaction import hide_error_details, quiet_driver_logs


def create_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    url = make_url(settings.database_url)
    size = pool_size or settings.db.pool_size
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            pool_size=size,
            max_overflow=settings.db.max_overflow,
            pool_timeout=settings.db.pool_timeout_s,
            connect_args={"timeout": settings.db.sqlite_busy_timeout_ms / 1000},
            hide_parameters=True,  # a logged error must never print a victim's data
        )
        _configure_sqlite(engine, settings.db.sqlite_busy_timeout_ms)
        quiet_driver_logs()
        return engine
    engine = create_async_engine(
        url,
        pool_size=size,
        max_overflow=settings.db.max_overflow,
        pool_timeout=settings.db.pool_timeout_s,
        pool_pre_ping=True,
        pool_recycle=1800,
        hide_parameters=True,  # a logged error must never print a victim's data
        connect_args={
            "command_timeout": settings.db.command_timeout_s,
            "timeout": settings.db.connect_timeout_s,
            "server_settings": {
                "application_name": "sigap",
                "lock_timeout": str(settings.db.lock_timeout_ms),
                "idle_in_transaction_session_timeout": str(
                    int(settings.db.idle_transaction_timeout_s * 1000)
                ),
            },
        },
    )
    hide_error_details(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control from the driver so "begin" below decides how to start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


WRITTEN = "sigap_written_tables"
"""``session.info`` key: the tables a transaction inserted into (for ``after_commit``)."""


def note_written(session: Session, table: str) -> None:
    """For Core inserts, which the ORM does not see: count them in the commit hook too."""
    session.info.setdefault(WRITTEN, set()).add(table)


def create_sessionmaker(
    engine: AsyncEngine, *, after_commit: Callable[[set[str]], None] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that, after each commit, tell ``after_commit`` which tables got new rows: a
    committed outbox event wakes the relay, a committed dispatch task the dispatcher, at once."""

    class HookedSession(Session):
        pass

    if after_commit is not None:

        @event.listens_for(HookedSession, "after_flush")
        def _after_flush(session: Session, _context: Any) -> None:
            written = session.info.setdefault(WRITTEN, set())
            for instance in session.new:
                written.add(instance.__table__.name)

        @event.listens_for(HookedSession, "after_commit")
        def _after_commit(session: Session) -> None:
            written = session.info.pop(WRITTEN, None)
            if written:
                after_commit(written)

        @event.listens_for(HookedSession, "after_rollback")
        def _after_rollback(session: Session) -> None:
            session.info.pop(WRITTEN, None)

    return async_sessionmaker(
        engine, expire_on_commit=False, autoflush=False, sync_session_class=HookedSession
    )


def is_postgresql(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


# SQLSTATEs that mean "the database is not there or not answering", not "this request is wrong":
# class 08 (connection exception), 57P01-57P05 (admin/crash shutdown, cannot connect now: a
# server stopping, crashing or in recovery), 57014 (a statement cancelled by a timeout), 53300
# (too many connections).
_OUTAGE_SQLSTATE_PREFIXES = ("08", "57P", "57014", "53300")


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached or does not answer (answer 503 and
    let the client retry) rather than a bug (500).

    Drivers raise these in several shapes: SQLAlchemy's wrappers (``OperationalError``,
    ``InterfaceError``, a ``DBAPIError`` that invalidated its connection), a pool timeout, plain
    socket errors, and asyncpg's own exceptions, which are *not* wrapped when they come from
    opening a connection (``CannotConnectNowError`` while PostgreSQL runs crash recovery). So
    the check follows ``orig`` and ``__cause__`` down to the driver's error and its SQLSTATE.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(
            error,
            PoolTimeout
            | OperationalError
            | InterfaceError
            | OSError
            | asyncio.TimeoutError,
        ):
            return True
        if isinstance(error, asyncpg.InterfaceError) and "closed" in str(error):
            return True  # "connection is closed": asyncpg's own word for a lost connection
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_OUTAGE_SQLSTATE_PREFIXES):
            return True
        pending += [getattr(error, "orig", None), error.__cause__]
    return False


STARTUP_RETRY_MAX_S = 5.0
_startup_log = logging.getLogger("sigap")


async def wait_out_outages(step: Callable[[], Awaitable[None]]) -> None:
    """Run a startup step until the database answers it: an outage is waited for (backing off
    to ``STARTUP_RETRY_MAX_S``), anything else fails the startup.

    uvicorn takes a worker whose startup fails for a broken deployment and stops every worker, so
    a worker restarted during a database outage that let one startup query fail would take the
    whole server down for good (the fault harness, loadtests/faults, found this twice: in the
    startup checks, then in the stream hub's first read). Every startup step that reads the
    database goes through here."""
    delay = 0.25
    while True:
        try:
            await step()
            return
        except Exception as exc:
            if not is_outage(exc):  # a bug or a refused setting: fail the startup
                raise
            _startup_log.warning(
                "database not reachable at startup (%s); retrying in %.1f s",
                type(exc).__name__,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, STARTUP_RETRY_MAX_S)

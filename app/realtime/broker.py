"""Brokers wake the hub when the stream's head moves. They carry only the new head (a number),
never an event: the database is the record, a wake-up may be lost, and the hub's polling and
catch-up reads make up for it.

- ``LocalBroker`` (SQLite, one process): the relay's announcement goes straight to the hub.
- ``PostgresBroker`` (several processes): a dedicated connection LISTENs on the relay's channel,
  is checked every ``listener_heartbeat_s`` and replaced when dead; after every (re)connect the
  hub is told to catch up from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import asyncpg

from app.waiting import woken

log = logging.getLogger("sigap.broker")
CHANNEL = "sigap_events"
"""The relay's NOTIFY channel; the payload is the new head, a number."""
LISTENER_NAME = "sigap-listener"
"""``application_name`` of the LISTEN connections (to find them in pg_stat_activity)."""
HeadCallback = Callable[[int | None], None]
"""Called with the new head, or None for "read the database, something may have been missed"."""
ORIGIN = uuid.uuid4().hex[:12]
"""This process, in the relay's announcements (``head:origin``): another process's announcement
means work may have been committed there (a press, a claim) that this process's loops have not
been woken for."""


def parse_announcement(payload: str) -> tuple[int | None, bool]:
    """(head, from another process) of a NOTIFY payload; a malformed one reads as remote."""
    head, _, origin = payload.partition(":")
    try:
        return int(head), origin != ORIGIN
    except ValueError:
        return None, True


class Broker(Protocol):
    on_remote: Callable[[], None] | None
    """Called when another process announced new events (or some may have been missed)."""

    async def start(self, on_head: HeadCallback) -> None: ...

    async def stop(self) -> None: ...

    def published(self, head: int) -> None:
        """The local relay committed up to ``head``."""
        ...

    def poke(self) -> None:
        """Announce this process's commits to the processes that do its work."""
        ...

    @property
    def heartbeat_age_s(self) -> float | None:
        """Seconds since the broker last proved it is listening (None: nothing to listen to)."""
        ...


class LocalBroker:
    def __init__(self) -> None:
        self._on_head: HeadCallback | None = None
        self.on_remote: Callable[[], None] | None = None  # one process: never called

    async def start(self, on_head: HeadCallback) -> None:
        self._on_head = on_head

    async def stop(self) -> None:
        self._on_head = None

    def published(self, head: int) -> None:
        if self._on_head is not None:
            self._on_head(head)

    def poke(self) -> None:
        pass  # one process does everything: its own commits woke its loops

    @property
    def heartbeat_age_s(self) -> float | None:
        return None


class PostgresBroker:
    def __init__(self, dsn: str, *, heartbeat_s: float) -> None:
        self._dsn = dsn
        self._heartbeat_s = heartbeat_s
        self._on_head: HeadCallback | None = None
        self.on_remote: Callable[[], None] | None = None
        self._poked = asyncio.Event()
        self._connection: Any = None
        self._task: asyncio.Task[None] | None = None
        self._last_ok = time.monotonic()
        self.reconnects = 0

    async def start(self, on_head: HeadCallback) -> None:
        self._on_head = on_head
        self._task = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    def published(self, head: int) -> None:
        if self._on_head is not None:
            self._on_head(head)

    def poke(self) -> None:
        """This process committed work it does not do itself (``--role intake``): announce it
        (``0:origin``, no head), so the processes that do it wake at once. Pokes made while one
        is being sent travel together."""
        self._poked.set()

    @property
    def heartbeat_age_s(self) -> float | None:
        return None if self._task is None else time.monotonic() - self._last_ok

    @property
    def backend_pid(self) -> int | None:
        """The listener's PostgreSQL backend (tests terminate it to prove recovery)."""
        return None if self._connection is None else int(self._connection.get_server_pid())

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        head, remote = parse_announcement(payload)
        if self._on_head is not None:
            self._on_head(head)
        if remote and self.on_remote is not None:
            self.on_remote()

    async def _connect(self) -> None:
        connection = await asyncpg.connect(
            self._dsn, timeout=5, server_settings={"application_name": LISTENER_NAME}
        )
        await connection.add_listener(CHANNEL, self._notified)
        self._connection = connection
        self._last_ok = time.monotonic()
        if self._on_head is not None:
            self._on_head(None)  # catch up on whatever was announced while we were not listening
        if self.on_remote is not None:
            self.on_remote()

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)

    async def _supervise(self) -> None:
        backoff = 0.2
        while True:
            try:
                if self._connection is None or self._connection.is_closed():
                    await self._close()
                    await self._connect()
                    backoff = 0.2
                if self._poked.is_set():
                    # Announce this process's commits to the processes that do its work; the
                    # listening connection sends it, outside every transaction. Proves the
                    # connection alive too.
                    self._poked.clear()
                    await self._connection.execute(
                        "SELECT pg_notify($1, $2)",
                        CHANNEL,
                        f"0:{ORIGIN}",
                        timeout=self._heartbeat_s,
                    )
                else:
                    await self._connection.fetchval("SELECT 1", timeout=self._heartbeat_s)
                self._last_ok = time.monotonic()
                await woken(self._poked, self._heartbeat_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a dead listener is replaced, never fatal
                log.warning("event listener lost (%s); reconnecting", exc)
                self.reconnects += 1
                await self._close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)


class Throttled:
    """Calls ``action`` soon after the first call of a burst, then at most once per ``every_s``:
    another process's announcements wake this process's loops without turning each of them
    into a cycle of empty queries."""

    def __init__(self, action: Callable[[], None], every_s: float) -> None:
        self._action, self._every_s = action, every_s
        self._pending = False
        self._last = -every_s

    def __call__(self) -> None:
        if self._pending:
            return
        self._pending = True
        loop = asyncio.get_running_loop()
        loop.call_later(max(0.0, self._last + self._every_s - loop.time()), self._run)

    def _run(self) -> None:
        self._pending = False
        self._last = asyncio.get_running_loop().time()
        self._action()

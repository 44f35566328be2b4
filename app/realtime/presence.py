"""Live console presence: a staff member with an authenticated socket (and its pings) is present.

Each process notes the signs of life of its own sockets and writes them to ``staff_presence``
every few seconds (and at once when someone connects), so the dispatcher in any process can ask
"who on this roster has a console open?". A member unseen for longer than the grace does not
count as on duty.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.models import StaffPresence
from app.upsert import dialect_insert
from app.waiting import woken

log = logging.getLogger("sigap.presence")
LOOP_NAME = "presence"


class PresenceTracker:
    """Signs of life seen by this process, flushed to the database by ``flush``."""

    def __init__(self) -> None:
        self._seen: dict[uuid.UUID, datetime] = {}
        self._connected: dict[uuid.UUID, int] = {}
        self.urgent = asyncio.Event()

    def connected(self, staff_id: uuid.UUID, at: datetime) -> None:
        self._connected[staff_id] = self._connected.get(staff_id, 0) + 1
        self._seen[staff_id] = at
        self.urgent.set()  # a new console should count before the next periodic flush

    def disconnected(self, staff_id: uuid.UUID) -> None:
        left = self._connected.get(staff_id, 0) - 1
        if left > 0:
            self._connected[staff_id] = left
        else:
            self._connected.pop(staff_id, None)

    def alive(self, staff_id: uuid.UUID, at: datetime) -> None:
        if staff_id in self._connected:
            self._seen[staff_id] = at

    def due(self, at: datetime) -> dict[uuid.UUID, datetime]:
        """What to write: fresh signs of life, and every open console (it is still there)."""
        seen, self._seen = self._seen, {}
        for staff_id in self._connected:
            seen[staff_id] = max(seen.get(staff_id, at), at)
        return seen


async def flush(
    sessions: async_sessionmaker[AsyncSession], tracker: PresenceTracker, clock: Clock
) -> int:
    rows = tracker.due(clock.now())
    if not rows:
        return 0
    async with sessions() as session, session.begin():
        statement = dialect_insert(session, StaffPresence)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["staff_id"], set_={"last_seen_at": statement.excluded.last_seen_at}
            ),
            [{"staff_id": k, "last_seen_at": v} for k, v in rows.items()],
        )
    return len(rows)


async def run_presence_flush(
    sessions: async_sessionmaker[AsyncSession],
    tracker: PresenceTracker,
    clock: Clock,
    every_s: float,
    heartbeats: dict[str, float],
) -> None:
    heartbeats.setdefault(LOOP_NAME, time.monotonic())
    while True:
        await woken(tracker.urgent, every_s)
        tracker.urgent.clear()
        started = time.monotonic()
        try:
            await flush(sessions, tracker, clock)
            heartbeats[LOOP_NAME] = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception:
            # A database outage must not end presence for good: open consoles are written
            # again at the next flush (``due`` lists every connected member).
            log.exception("presence flush failed; retrying")
        # Don't let a storm of connects turn into a storm of writes.
        await asyncio.sleep(max(0.0, 0.2 - (time.monotonic() - started)))


class DatabasePresence:
    """The dispatcher's view: staff seen by any process within the grace before ``at``."""

    def __init__(self, grace_s: float) -> None:
        self._grace = timedelta(seconds=grace_s)

    async def present(
        self, session: AsyncSession, staff_ids: set[uuid.UUID], at: datetime
    ) -> set[uuid.UUID] | None:
        if not staff_ids:
            return set()
        rows = await session.scalars(
            select(StaffPresence.staff_id).where(
                StaffPresence.staff_id.in_(staff_ids),
                StaffPresence.last_seen_at >= at - self._grace,
            )
        )
        return set(rows.all())

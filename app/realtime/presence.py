"""Live console presence: a staff member with an authenticated socket (and its pings) is present.

Each process notes the signs of life of its own sockets and writes them to ``staff_presence``
every few seconds (and at once when someone connects), so the dispatcher in any process can ask
"who on this roster has a console open?".

Presence ends when the person leaves (issue 22):
- **at once** on a clean end: a close frame from the client (the console closes its socket on
  sign-out and when its page goes away), a ``pagehide`` beacon (``POST /v1/stream/leave``), a
  sign-out, or access revoked. The row is deleted and ``presence.ended`` announced, so a process
  that still holds another socket of the same person writes them present again at once;
- **after the grace** (``presence_grace_s``, 60 s) on an unclean drop (the network went, the
  phone slept): the last sign of life stays written and ages out, long enough for the console's
  reconnect back-off (0.5 s doubling to 5 s) to bring a guard out of a tunnel or a counselor on
  4G back before they flap off duty.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.access import StaffPrincipal
from app.clock import Clock
from app.events import PRESENCE_ENDED, announce_access_changed, emit
from app.identity.principal import authenticate_bearer
from app.models import RefreshToken, StaffPresence
from app.security.credentials import digest
from app.security.tokens import TokenSigner
from app.upsert import dialect_insert
from app.waiting import woken

log = logging.getLogger("sigap.presence")
LOOP_NAME = "presence"


class PresenceTracker:
    """Signs of life seen by this process, flushed to the database by ``flush``."""

    def __init__(self) -> None:
        self._seen: dict[uuid.UUID, datetime] = {}
        self._connected: dict[uuid.UUID, int] = {}
        self._ended: set[uuid.UUID] = set()
        self.urgent = asyncio.Event()

    def connected(self, staff_id: uuid.UUID, at: datetime) -> None:
        self._connected[staff_id] = self._connected.get(staff_id, 0) + 1
        self._seen[staff_id] = at
        self._ended.discard(staff_id)
        self.urgent.set()  # a new console should count before the next periodic flush

    def disconnected(self, staff_id: uuid.UUID, *, clean: bool = False) -> None:
        """``clean``: the person left (a close frame, sign-out, revoked), so presence ends at
        once if this was their last socket here; otherwise the grace runs from the last sign of
        life."""
        left = self._connected.get(staff_id, 0) - 1
        if left > 0:
            self._connected[staff_id] = left
            return
        self._connected.pop(staff_id, None)
        if clean:
            self._seen.pop(staff_id, None)  # a last ping must not write them back
            self._ended.add(staff_id)
            self.urgent.set()

    def alive(self, staff_id: uuid.UUID, at: datetime) -> None:
        if staff_id in self._connected:
            self._seen[staff_id] = at

    def reassert(self, staff_id: uuid.UUID) -> None:
        """Someone's presence was ended elsewhere: if they still have a socket here, write them
        present again at once."""
        if staff_id in self._connected:
            self.urgent.set()

    def holds(self, staff_id: uuid.UUID) -> int:
        return self._connected.get(staff_id, 0)

    def due(self, at: datetime) -> dict[uuid.UUID, datetime]:
        """What to write: fresh signs of life, and every open console (it is still there)."""
        seen, self._seen = self._seen, {}
        for staff_id in self._connected:
            seen[staff_id] = max(seen.get(staff_id, at), at)
        return seen

    def end_later(self, ended: set[uuid.UUID]) -> None:
        self._ended |= ended - set(self._connected)

    def ended(self) -> set[uuid.UUID]:
        """Who left this process cleanly since the last flush (and has not come back)."""
        ended, self._ended = self._ended - set(self._connected), set()
        return ended


async def end_presence(
    session: AsyncSession, *, staff_id: uuid.UUID, at: datetime, token_digest: str | None = None
) -> None:
    """In the caller's transaction: the person is no longer present, and every process learns it
    (``presence.ended``; with ``token_digest``, the socket of that token is closed too)."""
    await session.execute(delete(StaffPresence).where(StaffPresence.staff_id == staff_id))
    data: dict[str, str] = {"subject": f"staff:{staff_id}"}
    if token_digest is not None:
        data["token"] = token_digest
    emit(session, PRESENCE_ENDED, at=at, data=data)


async def sign_out_presence(
    session: AsyncSession,
    *,
    at: datetime,
    staff_id: uuid.UUID | None = None,
    refresh_token: str | None = None,
) -> None:
    """On sign-out (by the account, or by the sign-in's refresh token), in its transaction:
    presence ends now, and the streams of the signed-out session are checked again at once
    (their tokens are dead), in every process. The person's other sessions (another device)
    stay connected and are written present again by the process that holds them."""
    if staff_id is None and refresh_token is not None:
        staff_id = await session.scalar(
            select(RefreshToken.user_id).where(RefreshToken.token_hash == digest(refresh_token))
        )
    if staff_id is None:
        return  # an unknown token: nobody to sign out
    await session.execute(delete(StaffPresence).where(StaffPresence.staff_id == staff_id))
    announce_access_changed(session, subject=f"staff:{staff_id}", at=at)


async def page_closed(
    session: AsyncSession, *, token: str, signer: TokenSigner, now: datetime
) -> bool:
    """The console's ``pagehide`` beacon: the page holding ``token``'s socket is going away, so
    presence ends now and that socket is closed (in whichever process holds it), even if the
    browser never gets its close frame out. False: not a valid token."""
    principal = await authenticate_bearer(session, token=token, signer=signer, now=now)
    if principal is None:
        return False
    if isinstance(principal, StaffPrincipal):
        await end_presence(session, staff_id=principal.user_id, at=now, token_digest=digest(token))
    return True


async def flush(
    sessions: async_sessionmaker[AsyncSession], tracker: PresenceTracker, clock: Clock
) -> int:
    now = clock.now()
    ended = tracker.ended()
    rows = tracker.due(now)
    if not rows and not ended:
        return 0
    try:
        async with sessions() as session, session.begin():
            for staff_id in ended:
                await end_presence(session, staff_id=staff_id, at=now)
            if rows:
                statement = dialect_insert(session, StaffPresence)
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["staff_id"],
                        set_={"last_seen_at": statement.excluded.last_seen_at},
                    ),
                    [{"staff_id": k, "last_seen_at": v} for k, v in rows.items()],
                )
    except BaseException:
        tracker.end_later(ended)  # open consoles are listed again anyway; the ends are not
        raise
    return len(rows) + len(ended)


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

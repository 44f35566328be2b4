"""The hub: one per process. It reads newly numbered events from the database and hands each
socket what its audience may see, through that socket's bounded queue.

The hub never awaits a socket. It keeps one bounded backlog of recent events for the whole
process; every socket sends from it at its own pace, by its own cursor, so memory does not grow
with slow sockets: a client that falls behind the backlog (or whose single send stalls) is closed
(4009) and resumes from its last sequence number, from the database. Resume and live delivery
share that one cursor, so the hand-over from replay to live has neither a gap nor a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import AppContext
from app.db import wait_out_outages
from app.events import ACCESS_CHANGED, INTERNAL_EVENTS
from app.loops import note_error
from app.models import Alert, Assignment, OutboxEvent, StreamState, Unit
from app.realtime.broker import Throttled
from app.realtime.caps import SocketCaps
from app.realtime.epoch import stream_epoch
from app.realtime.scopes import (
    DEVICE_CLOSING_EVENTS,
    DEVICE_REOPENING_EVENT,
    AlertFacts,
    Audience,
    LegSight,
    ScopeFacts,
    StreamEvent,
    device_windows,
    message_for,
)
from app.waiting import woken

log = logging.getLogger("sigap.hub")
LOOP_NAME = "hub"
CLOSE_TOO_SLOW = 4009
REMOTE_WAKE_S = 0.05


def wake_work_loops(context: AppContext) -> None:
    """Another process committed work (a press on an intake process, events numbered
    elsewhere): a task, an event to number or a clock may be due here. The process that did
    the work woke its own loops at once; this is for the processes that do work for others
    (``--role worker``) or that pick up what a busy or dead process left."""
    context.dispatch_wakeup.set()
    context.outbox_wakeup.set()
    context.sla_wakeup.set()
    context.webhook_wakeup.set()


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def event_message(seq: int, name: str, at: str, data: dict[str, Any]) -> str:
    return encode({"type": "event", "seq": seq, "event": name, "at": at, "data": data})


def stream_event(row: OutboxEvent) -> StreamEvent:
    return StreamEvent(
        seq=int(row.seq or 0),
        event=row.event_type,
        at=row.created_at,
        alert_id=row.alert_id,
        data=row.payload,
        device_id=row.device_id,
        device_seq=row.device_seq,
    )


async def load_events(
    session: AsyncSession, *, after: int, upto: int | None, limit: int
) -> list[StreamEvent]:
    """A phone's replay reads its own numbering instead (app/realtime/device_stream.py)."""
    query = (
        select(OutboxEvent)
        .where(OutboxEvent.seq.is_not(None), OutboxEvent.seq > after)
        .order_by(OutboxEvent.seq)
        .limit(limit)
    )
    if upto is not None:
        query = query.where(OutboxEvent.seq <= upto)
    return [stream_event(r) for r in (await session.scalars(query)).all()]


async def load_facts(
    session: AsyncSession, alert_ids: set[uuid.UUID]
) -> dict[uuid.UUID, AlertFacts]:
    """What need-to-know reads of each alert of a batch of events: three queries per batch,
    whatever the number of sockets (each socket then decides in memory)."""
    if not alert_ids:
        return {}
    alerts = (
        await session.execute(
            select(
                Alert.id,
                Alert.device_id,
                Alert.is_drill,
                Alert.handed_over_to,
                Alert.handed_over_at,
                Alert.transferred_at,
            ).where(Alert.id.in_(alert_ids))
        )
    ).all()
    # When the phone saw each alert end and, if a press reopened it, start again: a handful
    # of rows per alert (a reopen is bounded, docs/intake.md).
    turns: dict[uuid.UUID, list[tuple[int, str]]] = {}
    for alert_id, event_type, seq in (
        await session.execute(
            select(OutboxEvent.alert_id, OutboxEvent.event_type, OutboxEvent.seq)
            .where(
                OutboxEvent.alert_id.in_(alert_ids),
                OutboxEvent.event_type.in_((*DEVICE_CLOSING_EVENTS, DEVICE_REOPENING_EVENT)),
                OutboxEvent.seq.is_not(None),
            )
            .order_by(OutboxEvent.seq)
        )
    ).all():
        turns.setdefault(alert_id, []).append((int(seq), event_type))
    windows = {alert_id: device_windows(rows) for alert_id, rows in turns.items()}
    legs = (
        await session.execute(
            select(
                Assignment.alert_id,
                Assignment.unit_id,
                Assignment.offered_at,
                Assignment.closed_at,
                Assignment.status,
                Assignment.leg_kind,
                Unit.partner_code,
            )
            .join(Unit, Unit.id == Assignment.unit_id)
            .where(Assignment.alert_id.in_(alert_ids))
        )
    ).all()
    sights: dict[uuid.UUID, list[LegSight]] = {}
    transit: dict[uuid.UUID, list[tuple[str, LegSight]]] = {}
    for alert_id, unit_id, offered_at, closed_at, status, leg_kind, partner in legs:
        leg = LegSight(unit_id, offered_at, closed_at, status)
        sights.setdefault(alert_id, []).append(leg)
        if leg_kind == "transit" and partner:
            transit.setdefault(alert_id, []).append((str(partner), leg))
    return {
        alert_id: AlertFacts(
            device_id=device_id,
            device_closed_seq=windows[alert_id][0][1] if alert_id in windows else None,
            device_windows=windows.get(alert_id),
            legs=tuple(sights.get(alert_id, ())),
            scope=ScopeFacts(
                is_drill=is_drill,
                handed_over_to=handed_over_to,
                handed_over_at=handed_over_at,
                transferred_at=transferred_at,
                transit_legs=tuple(transit.get(alert_id, ())),
            ),
        )
        for alert_id, device_id, is_drill, handed_over_to, handed_over_at, transferred_at in alerts
    }


@dataclass(eq=False)
class Reader:
    """A socket's place in the stream, as the hub sees it."""

    cursor: int
    dropped: bool = False
    """Fell out of the backlog: its socket is closed (4009) and resumes from the database."""
    subject: str | None = None
    """Whose socket (``staff:<id>``, ``client:<id>``, ``device:<id>``)."""
    token_digest: str | None = None
    recheck: Callable[[], None] | None = None
    """Called when the subject's access changed: check it again now."""
    left: Callable[[], None] | None = None
    """Called when the page holding this socket said it is closing (its token's digest)."""


@dataclass(frozen=True)
class Delivered:
    """An event in the hub's backlog, with the facts about its alert at the time it was read."""

    event: StreamEvent
    facts: AlertFacts | None

    @cached_property
    def as_is(self) -> str:
        """The event unchanged, encoded once for every socket that may see all of it: a room of
        supervisors, a post's counselors (one string per backlog event, so memory stays bounded)."""
        return _encode_event(self.event, self.event.event, self.event.data)


def _encode_event(event: StreamEvent, name: str, data: dict[str, Any]) -> str:
    return event_message(event.seq, name, event.at.isoformat().replace("+00:00", "Z"), data)


def render(audience: Audience, delivered: Delivered) -> str | None:
    event = delivered.event
    if event.event in INTERNAL_EVENTS:
        return None  # the hub's own signals between processes (Hub.signal)
    if audience.kind == "device":
        # A phone's stream numbers only its own events (app/realtime/device_stream.py): an
        # event without its number is not for it, whatever else is true.
        if event.device_seq is None or event.device_id != audience.device_id:
            return None
        shown = message_for(audience, event, delivered.facts)
        if shown is None:
            return None
        at = event.at.isoformat().replace("+00:00", "Z")
        return event_message(event.device_seq, shown[0], at, shown[1])
    visible = message_for(audience, event, delivered.facts)
    if visible is None:
        return None
    name, data = visible
    # The policy copies what it changes and never mutates ``event.data``: the very same dict
    # under the same name is the event unchanged.
    if name == event.event and data is event.data:
        return delivered.as_is
    return _encode_event(event, name, data)


class Hub:
    """The process's window on the stream: a bounded backlog of recent events that every socket
    reads at its own pace, by its own cursor."""

    def __init__(self, context: AppContext) -> None:
        self._context = context
        self.head = 0
        self.epoch = ""
        self.readers: set[Reader] = set()
        self.caps = SocketCaps(context.settings.realtime)
        """This process's socket counts (per network before auth, per credential after)."""
        self._backlog: deque[Delivered] = deque(maxlen=context.settings.realtime.backlog_events)
        self._moved = asyncio.Event()
        self._wake = asyncio.Event()
        self._pumping = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await wait_out_outages(self._load_head)
        self._context.broker.on_remote = Throttled(
            lambda: wake_work_loops(self._context), REMOTE_WAKE_S
        )
        await self._context.broker.start(self.announce)
        self._task = asyncio.create_task(self._run())

    async def _load_head(self) -> None:
        async with self._context.sessions() as session:
            state = await session.get(StreamState, 1)
            if state is None:
                raise RuntimeError("stream_state is missing: run the migrations")
            self.head, self.epoch = state.last_seq, await stream_epoch(session)

    async def stop(self) -> None:
        await self._context.broker.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def announce(self, head: int | None) -> None:
        """The broker's wake-up: the head moved (or may have)."""
        if head is None or head > self.head:
            self._wake.set()

    @property
    def sockets(self) -> int:
        return len(self.readers)

    def join(self, cursor: int, **who: Any) -> Reader:
        reader = Reader(cursor=cursor, **who)
        self.readers.add(reader)
        return reader

    def signal(self, events: list[StreamEvent]) -> None:
        """Act on the signals among newly read events, in every process alike: a subject whose
        access changed has its sockets checked again at once (a disabled or demoted account is
        closed by this push, not by the revalidation tick); a page that said it is closing has
        its socket closed; a staff member who left one socket but holds another here is written
        present again."""
        for event in events:
            if event.event not in INTERNAL_EVENTS:
                continue
            subject = event.data.get("subject")
            if not isinstance(subject, str):
                continue
            token = event.data.get("token")
            for reader in self.readers:
                if reader.subject != subject:
                    continue
                if event.event == ACCESS_CHANGED and reader.recheck is not None:
                    reader.recheck()
                elif token and token == reader.token_digest and reader.left is not None:
                    reader.left()
            kind, _, staff_id = subject.partition(":")
            if kind == "staff":
                with contextlib.suppress(ValueError):
                    self._context.presence_tracker.reassert(uuid.UUID(staff_id))

    def leave(self, reader: Reader) -> None:
        self.readers.discard(reader)

    def since(self, reader: Reader) -> list[Delivered] | None:
        """Backlog events after the reader's cursor, oldest first; None if it was dropped or some
        of them already left the backlog (the socket fell too far behind)."""
        cursor = reader.cursor
        if reader.dropped:
            return None
        if cursor >= self.head:
            return []
        newer: list[Delivered] = []
        for delivered in reversed(self._backlog):
            if delivered.event.seq <= cursor:
                break
            newer.append(delivered)
        newer.reverse()
        if not newer or newer[0].event.seq != cursor + 1:
            return None
        return newer

    async def wait_beyond(self, cursor: int) -> None:
        while self.head <= cursor:
            moved = self._moved
            await moved.wait()

    async def replay(
        self, audience: Audience, *, after: int, upto: int
    ) -> AsyncIterator[tuple[int, str | None]]:
        """What a resuming socket missed, read from the database: (seq, message or None). A
        phone resumes on its own numbering instead (app/realtime/device_stream.py)."""
        batch = self._context.settings.realtime.replay_batch
        cursor = after
        while cursor < upto:
            async with self._context.sessions() as session:
                events = await load_events(session, after=cursor, upto=upto, limit=batch)
                if not events:
                    return
                facts = await load_facts(session, {e.alert_id for e in events if e.alert_id})
            for event in events:
                yield (
                    event.seq,
                    render(
                        audience,
                        Delivered(event, facts.get(event.alert_id) if event.alert_id else None),
                    ),
                )
            cursor = events[-1].seq

    async def oldest_replayable(self, session: AsyncSession) -> int:
        """The first sequence number still inside the replay window (head + 1 if none)."""
        since = self._context.clock.now() - timedelta(
            hours=self._context.settings.realtime.replay_window_h
        )
        oldest = await session.scalar(
            select(func.min(OutboxEvent.seq)).where(
                OutboxEvent.seq.is_not(None), OutboxEvent.created_at >= since
            )
        )
        return int(oldest) if oldest is not None else self.head + 1

    async def _run(self) -> None:
        poll = self._context.settings.realtime.hub_poll_s
        self._context.loop_heartbeats.setdefault(LOOP_NAME, time.monotonic())
        while True:
            await woken(self._wake, poll)
            self._wake.clear()
            try:
                await self.pump()
                self._context.loop_heartbeats[LOOP_NAME] = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                note_error(self._context, LOOP_NAME, exc)
                log.exception("hub cycle failed; retrying")

    async def pump(self) -> int:
        """Read every event after the head into the backlog and wake the sockets. Also called
        before a socket starts, so the head it is told is the database's, not a stale one."""
        async with self._pumping:
            return await self._pump()

    async def _pump(self) -> int:
        total = 0
        settings = self._context.settings.realtime
        batch = max(1, min(settings.replay_batch, settings.backlog_events // 2))
        while True:
            async with self._context.sessions() as session:
                events = await load_events(session, after=self.head, upto=None, limit=batch)
                if not events:
                    return total
                # No socket: nobody will read these from the backlog (a socket that connects
                # later starts at the head, or replays from the database), so skip the facts.
                facts = (
                    await load_facts(session, {e.alert_id for e in events if e.alert_id})
                    if self.readers
                    else {}
                )
            self.signal(events)
            await self._make_room(len(events))
            for event in events:
                self._backlog.append(
                    Delivered(event, facts.get(event.alert_id) if event.alert_id else None)
                )
            self.head = events[-1].seq
            total += len(events)
            moved, self._moved = self._moved, asyncio.Event()
            moved.set()
            if len(events) < batch:
                return total  # read to the end: the next announcement wakes the next read

    async def _make_room(self, incoming: int) -> None:
        """Before evicting events some socket still needs, give it ``burst_grace_s`` to catch
        up; then drop it. A stuck socket costs the others one grace, once."""
        overflow = len(self._backlog) + incoming - (self._backlog.maxlen or 0)
        if overflow <= 0:
            return
        evicted_upto = self._backlog[min(overflow, len(self._backlog)) - 1].event.seq
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._context.settings.realtime.burst_grace_s
        while True:
            laggards = [r for r in self.readers if not r.dropped and r.cursor < evicted_upto]
            if not laggards:
                return
            if loop.time() >= deadline:
                for reader in laggards:
                    reader.dropped = True
                return
            await asyncio.sleep(0.005)

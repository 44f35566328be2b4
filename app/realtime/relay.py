"""The relay: gives committed outbox events their place in the deployment-wide stream.

Why not the outbox ``id``: it comes from a sequence *before* commit, so a transaction that commits
late can become visible after a larger id, and a reader resuming "after id N" would skip it. The
relay only ever sees committed rows; it numbers them (``seq``) in one transaction under a lock
(an advisory lock on PostgreSQL, in a single statement: one relay at a time across processes;
SQLite has one writer), so
sequence numbers become visible in increasing batches and "after seq N" can never miss one. In
the same transaction it numbers the events each phone sees on that phone's own stream
(``app/realtime/device_stream.py``).

After each batch it announces the new head: ``pg_notify`` (the head and this process's origin,
delivered at commit) to every process, and the local broker at once. The relay is woken by local
commits; its fallback poll (``realtime.relay_poll_s``) only catches events a process committed
and died before numbering.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import select, text, update

from app.context import AppContext
from app.loops import note_error
from app.models import OutboxEvent, StreamState
from app.realtime.broker import CHANNEL, ORIGIN
from app.realtime.device_stream import number_for_devices
from app.waiting import woken

log = logging.getLogger("sigap.relay")
RELAY_LOCK_KEY = 0x5167_6171
RELAY_COALESCE_S = 0.02
"""After a wake-up, let the commits of the next 20 ms arrive: under load one numbering
transaction (and one hub read per process) serves them all, for 20 ms on the way to a socket."""
RELAY_BATCH = 1000
LOOP_NAME = "relay"


# One round trip on PostgreSQL: take the relay's lock, lock the unnumbered rows in id order,
# move the head, number the rows after the old head, announce the new head. With another relay
# at work, or nothing to do, it changes nothing and returns NULL.
_SEQUENCE_PG = text(
    """
    WITH relay AS (SELECT pg_try_advisory_xact_lock(:key) AS ours),
    locked AS (
        SELECT id FROM outbox_event
        WHERE seq IS NULL AND (SELECT ours FROM relay)
        ORDER BY id LIMIT :batch FOR UPDATE
    ),
    pending AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM locked),
    moved AS (
        UPDATE stream_state SET last_seq = last_seq + (SELECT count(*) FROM pending),
                                updated_at = :now
        WHERE id = 1 AND EXISTS (SELECT 1 FROM pending)
        RETURNING last_seq - (SELECT count(*) FROM pending) AS before
    ),
    numbered AS (
        UPDATE outbox_event o SET seq = (SELECT before FROM moved) + p.n
        FROM pending p WHERE o.id = p.id
        RETURNING o.seq
    )
    SELECT head, numbered,
           CASE WHEN head IS NOT NULL THEN pg_notify(:channel, head::text || ':' || :origin) END
    FROM (SELECT max(seq) AS head, count(*) AS numbered FROM numbered) AS h
    """
)


async def sequence_pending(context: AppContext, *, batch: int = 1000) -> int | None:
    """Number the committed, unnumbered events; returns the new head, or None if none."""
    head, _ = await sequence_batch(context, batch=batch)
    return head


async def sequence_batch(context: AppContext, *, batch: int = 1000) -> tuple[int | None, int]:
    """Number up to ``batch`` committed, unnumbered events: (new head or None, how many). Fewer
    than ``batch`` means none was left: the caller need not ask again (a commit since then
    wakes it)."""
    now = context.clock.now()
    async with context.sessions() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            row = (
                await session.execute(
                    _SEQUENCE_PG,
                    {
                        "key": RELAY_LOCK_KEY,
                        "batch": batch,
                        "now": now,
                        "channel": CHANNEL,
                        "origin": ORIGIN,
                    },
                )
            ).one()
            if row.head is None:
                return None, 0
            head, numbered = int(row.head), int(row.numbered)
            # Still under the relay's lock, in the same transaction: the phones' own numbers
            # become visible together with ``seq`` (app/realtime/device_stream.py).
            await number_for_devices(session, first=head - numbered + 1, last=head)
            return head, numbered
        ids = (
            await session.scalars(
                select(OutboxEvent.id)
                .where(OutboxEvent.seq.is_(None))
                .order_by(OutboxEvent.id)
                .limit(batch)
            )
        ).all()
        if not ids:
            return None, 0
        state = await session.scalar(select(StreamState).where(StreamState.id == 1))
        if state is None:
            raise RuntimeError("stream_state is missing: run the migrations")
        first = state.last_seq + 1
        await session.execute(
            update(OutboxEvent),
            [{"id": event_id, "seq": first + n} for n, event_id in enumerate(ids)],
        )
        state.last_seq = first + len(ids) - 1
        state.updated_at = now
        await number_for_devices(session, first=first, last=state.last_seq)
        return state.last_seq, len(ids)


async def run_relay(context: AppContext) -> None:
    """Forever: number what is pending, tell the hub, then wait for a commit or the poll."""
    wake = context.outbox_wakeup
    context.loop_heartbeats.setdefault(LOOP_NAME, time.monotonic())
    while True:
        wake.clear()
        # Let the commits of the same instant arrive: one numbering transaction for them all.
        await asyncio.sleep(RELAY_COALESCE_S)
        try:
            while True:
                head, numbered = await sequence_batch(context, batch=RELAY_BATCH)
                if head is not None:
                    context.broker.published(head)
                    context.webhook_wakeup.set()
                if numbered < RELAY_BATCH:
                    break  # nothing left: no second look at an empty queue
            context.loop_heartbeats[LOOP_NAME] = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            note_error(context, LOOP_NAME, exc)
            log.exception("relay cycle failed; retrying")
        await woken(wake, context.settings.realtime.relay_poll_s)

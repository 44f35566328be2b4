"""A phone's own stream: its events numbered 1, 2, 3, ... and nothing else counted.

With the deployment-wide ``seq`` whoever holds the phone watched the number climb after a
cancel, so activity visibly went on (a duress cancel's alert keeps running for staff). A phone's
``head_seq``, its events' ``seq`` and its ``after`` are therefore on a numbering of its own
(PRODUCT.md section 6).

The relay gives these numbers in the same transaction, under the same lock and in the same
order as it gives ``seq``, to exactly the events the stream's policy (``message_for``) shows the
phone, so a number is given if and only if the event is sent. They are stored, hence the same on
every reconnect and in every process. The head lives in ``device_stream``, apart from the
events, so purging old events never moves it. A duress cancel is shown as a genuine one and is
numbered alike; nothing after the phone saw its alert end is shown, so nothing after it is
numbered either.

A phone's replay reads ``outbox_event (device_id, device_seq)``: its own few events, never the
deployment's.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import DeviceStream, OutboxEvent
from app.realtime.hub import Delivered, load_facts, render, stream_event
from app.realtime.scopes import DEVICE_EVENT_TYPES, Audience, message_for
from app.upsert import dialect_insert


async def number_for_devices(session: AsyncSession, *, first: int, last: int) -> int:
    """Give the events just numbered ``first..last`` that a phone sees their place on that
    phone's stream; the caller's transaction (the relay's) commits them with ``seq``. Returns
    how many were given."""
    rows = (
        await session.scalars(
            select(OutboxEvent)
            .where(
                OutboxEvent.seq >= first,
                OutboxEvent.seq <= last,
                OutboxEvent.event_type.in_(DEVICE_EVENT_TYPES),
                OutboxEvent.alert_id.is_not(None),
            )
            .order_by(OutboxEvent.seq)
        )
    ).all()
    if not rows:
        return 0
    facts = await load_facts(session, {r.alert_id for r in rows if r.alert_id})
    shown: list[tuple[OutboxEvent, uuid.UUID]] = []
    for row in rows:
        alert = facts.get(row.alert_id) if row.alert_id else None
        if alert is None:
            continue
        phone = Audience(kind="device", device_id=alert.device_id)
        if message_for(phone, stream_event(row), alert) is not None:
            shown.append((row, alert.device_id))
    if not shown:
        return 0
    devices = {device_id for _, device_id in shown}
    heads: dict[uuid.UUID, int] = {
        device_id: int(last_seq)
        for device_id, last_seq in (
            await session.execute(
                select(DeviceStream.device_id, DeviceStream.last_seq).where(
                    DeviceStream.device_id.in_(devices)
                )
            )
        ).all()
    }
    numbers = []
    for row, device_id in shown:
        heads[device_id] = heads.get(device_id, 0) + 1
        numbers.append({"id": row.id, "device_id": device_id, "device_seq": heads[device_id]})
    await session.execute(update(OutboxEvent), numbers)
    statement = dialect_insert(session, DeviceStream)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["device_id"], set_={"last_seq": statement.excluded.last_seq}
        ),
        [{"device_id": k, "last_seq": v} for k, v in heads.items()],
    )
    return len(numbers)


async def device_head(session: AsyncSession, device_id: uuid.UUID, *, upto: int) -> int:
    """The phone's head as of the deployment's position ``upto`` (what the hub has read): its
    stored head less what the relay numbered since. One statement, so one snapshot."""
    stored = select(DeviceStream.last_seq).where(DeviceStream.device_id == device_id)
    beyond = select(func.count()).where(
        OutboxEvent.device_id == device_id, OutboxEvent.seq > upto
    )
    head = await session.scalar(
        select(func.coalesce(stored.scalar_subquery(), 0) - beyond.scalar_subquery())
    )
    return int(head or 0)


async def needs_resync(
    session: AsyncSession,
    device_id: uuid.UUID,
    *,
    after: int,
    head: int,
    window_starts: datetime,
) -> bool:
    """The same rule as for everyone's cursor, on the phone's numbering: past its head, or its
    next event is no longer kept or older than the replay window."""
    if after > head:
        return True
    if after == head:
        return False
    next_at = await session.scalar(
        select(OutboxEvent.created_at).where(
            OutboxEvent.device_id == device_id, OutboxEvent.device_seq == after + 1
        )
    )
    return next_at is None or next_at < window_starts


async def replay_device(
    sessions: async_sessionmaker[AsyncSession],
    audience: Audience,
    *,
    after: int,
    upto: int,
    batch: int,
) -> AsyncIterator[str]:
    """What a resuming phone missed after its own number ``after``, up to the deployment's
    position ``upto`` (where its live delivery begins)."""
    assert audience.device_id is not None
    cursor = after
    while True:
        async with sessions() as session:
            rows = (
                await session.scalars(
                    select(OutboxEvent)
                    .where(
                        OutboxEvent.device_id == audience.device_id,
                        OutboxEvent.device_seq > cursor,
                        OutboxEvent.seq <= upto,
                    )
                    .order_by(OutboxEvent.device_seq)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return
            events = [stream_event(r) for r in rows]
            facts = await load_facts(session, {e.alert_id for e in events if e.alert_id})
        for event in events:
            message = render(
                audience, Delivered(event, facts.get(event.alert_id) if event.alert_id else None)
            )
            if message is not None:
                yield message
        cursor = int(rows[-1].device_seq or 0)
        if len(rows) < batch:
            return

"""Queueing messages in the transaction of the change they announce (never sent before it
commits). Each row has a stable id and a de-duplication key, so a retried transaction or a second
worker cannot queue it twice and a provider can drop a repeat. Routine messages are limited per
alert and person per window (a phone must not be flooded), except the first offer of an alert or
of a reopen; critical ones never are here, they are coalesced into digests when sent. Texts carry
the case code and what to do, never a victim's identity (UU SPPA Art. 19, UU PDP).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import DispatchSettings
from app.models import Notification, Region, Shift, StaffUser, Unit
from app.notify.budget import CRITICAL_KINDS
from app.upsert import dialect_insert


@dataclass(frozen=True)
class Message:
    """One message to queue for some people about an alert (``ref`` de-duplicates it)."""

    recipients: tuple[uuid.UUID, ...]
    kind: str
    text: str
    alert_id: uuid.UUID | None
    ref: str
    first: bool = False
    """The first offer of an alert, or of a reopen: never withheld by the per-alert limit."""


async def queue(
    session: AsyncSession,
    *,
    recipients: list[uuid.UUID],
    kind: str,
    text: str,
    alert_id: uuid.UUID | None,
    ref: str,
    now: datetime,
    settings: DispatchSettings,
) -> None:
    """Queue one message per recipient; over the per-alert limit it is kept as ``suppressed``."""
    await queue_many(
        session,
        [Message(tuple(recipients), kind, text, alert_id, ref)],
        now=now,
        settings=settings,
    )


async def queue_many(
    session: AsyncSession, messages: list[Message], *, now: datetime, settings: DispatchSettings
) -> None:
    """Queue many messages with one count and one insert (the SLA monitor's bursts)."""
    wanted = [(m, person) for m in messages for person in dict.fromkeys(m.recipients)]
    if not wanted:
        return
    alert_ids = {m.alert_id for m, _ in wanted if m.alert_id is not None}
    recent: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    if alert_ids:
        counted = await session.execute(
            select(Notification.alert_id, Notification.recipient_id, func.count())
            .where(
                Notification.alert_id.in_(alert_ids),
                Notification.recipient_id.in_({person for _, person in wanted}),
                Notification.status != "suppressed",
                Notification.created_at > now - timedelta(seconds=settings.notify_window_s),
            )
            .group_by(Notification.alert_id, Notification.recipient_id)
        )
        recent = {(a, r): int(n) for a, r, n in counted.all() if a is not None}
    rows = []
    for message, person in wanted:
        key = (message.alert_id, person) if message.alert_id is not None else None
        sent = recent.get(key, 0) if key else 0
        if key:
            recent[key] = sent + 1
        rows.append(
            {
                "id": uuid.uuid4(),
                "dedupe_key": f"{message.kind}:{message.alert_id}:{message.ref}:{person}",
                "alert_id": message.alert_id,
                "recipient_id": person,
                "kind": message.kind,
                "text": message.text,
                "status": "suppressed"
                if sent >= settings.notify_per_alert_person
                and message.kind not in CRITICAL_KINDS
                and not message.first
                else "queued",
                "created_at": now,
                "due_at": now,
                "attempts": 0,
            }
        )
    # One statement object per dialect, executed with many rows: compiled once, cached.
    await session.execute(_insert_ignoring_duplicates(session), rows)


_INSERTS: dict[str, Any] = {}


def _insert_ignoring_duplicates(session: AsyncSession) -> Any:
    name = session.get_bind().dialect.name
    if name not in _INSERTS:
        _INSERTS[name] = dialect_insert(session, Notification).on_conflict_do_nothing(
            index_elements=["dedupe_key"]
        )
    return _INSERTS[name]


async def supervisors_on_duty(
    session: AsyncSession, *, region_code: str, at: datetime, central_code: str | None = None
) -> list[uuid.UUID]:
    """Supervisors rostered at the region's central desk now; if none is rostered, every
    supervisor, so an escalation always reaches someone. ``central_code``: the desk when the
    caller already knows it (the dispatcher's snapshot), else read from the region."""
    if central_code is None:
        region = await session.get(Region, region_code)
        central_code = region.central_desk_code if region else "central"
    rostered = (
        await session.scalars(
            select(StaffUser.id)
            .join(Shift, Shift.staff_id == StaffUser.id)
            .join(Unit, Unit.id == Shift.unit_id)
            .where(
                StaffUser.role == "supervisor",
                StaffUser.disabled_at.is_(None),
                Unit.code == central_code,
                Shift.starts_at <= at,
                Shift.ends_at > at,
            )
        )
    ).all()
    if rostered:
        return list(dict.fromkeys(rostered))
    return list(
        (
            await session.scalars(
                select(StaffUser.id)
                .where(StaffUser.role == "supervisor", StaffUser.disabled_at.is_(None))
                .order_by(StaffUser.username)
            )
        ).all()
    )

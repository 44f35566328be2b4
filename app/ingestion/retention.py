"""Outbox retention: events are kept ``outbox.retention_days`` (default 30), then deleted by
housekeeping, in batches so a first purge of a large outbox never holds locks for long.

Kept whatever their age: events not numbered yet (the relay still owes them a position) and the
events of an alert that is still open (its phone and its consoles may still need its history).
A client resuming from before what is kept is told ``resync_required`` (its cursor is outside
the replay window, which is shorter than the retention).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select

from app.context import AppContext
from app.models import Alert, OutboxEvent
from app.states import TERMINAL


async def purge_outbox(context: AppContext, *, now: datetime) -> int:
    """Delete expired events; returns how many."""
    settings = context.settings.outbox
    before = now - timedelta(days=settings.retention_days)
    still_open = select(Alert.id).where(Alert.state.not_in([s.value for s in TERMINAL]))
    expired = (
        select(OutboxEvent.id)
        .where(
            OutboxEvent.created_at < before,
            OutboxEvent.seq.is_not(None),
            or_(OutboxEvent.alert_id.is_(None), OutboxEvent.alert_id.not_in(still_open)),
        )
        .limit(settings.purge_batch)
    )
    purged = 0
    while True:
        async with context.sessions() as session, session.begin():
            ids = (await session.scalars(expired)).all()
            if ids:
                await session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))
        purged += len(ids)
        context.metrics.outbox_purged.inc(len(ids))
        if len(ids) < settings.purge_batch:
            return purged

"""Retention: alerts that never became a case lose their personal data after a while.

Cancelled, accidental and drill alerts are purged of contact, free text, the raw body, every
location and the notes ``retention_days`` after they closed; the skeleton (case code, times,
states, routing and the audit trail) stays, so reports and SLAs still add up. Never purged: an
alert on legal hold, one with a case file, and one cancelled under duress — the phone saw a
cancel, but for staff the alert is a live emergency, and its record must survive it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import record
from app.context import AppContext
from app.models import Alert, AlertLocation, AlertNote, Case

PURGEABLE_DISPOSITIONS = ("accidental", "cancelled_by_victim")


def purgeable(*, now: datetime, retention: timedelta) -> tuple[ColumnElement[bool], ...]:
    """The SQL condition for an alert whose personal data is due for purging."""
    closed = func.coalesce(Alert.resolved_at, Alert.cancelled_at)
    return (
        Alert.purged_at.is_(None),
        Alert.legal_hold.is_(False),
        Alert.duress.is_(False),
        or_(Alert.disposition.is_(None), Alert.disposition != "cancelled_under_duress"),
        or_(
            Alert.state == "cancelled",
            Alert.disposition.in_(PURGEABLE_DISPOSITIONS),
            Alert.is_drill.is_(True),
        ),
        closed.is_not(None),
        closed <= now - retention,
        ~exists().where(Case.alert_id == Alert.id),
    )


async def purge_expired_personal_data(
    session: AsyncSession, *, now: datetime, retention: timedelta, limit: int = 200
) -> int:
    """Purge one batch (flushes; the caller commits). Returns how many alerts were purged."""
    alerts = (
        await session.scalars(
            select(Alert)
            .where(*purgeable(now=now, retention=retention))
            .order_by(Alert.received_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for alert in alerts:
        alert.private_enc = None
        alert.last_lat = alert.last_lon = alert.last_accuracy_m = None
        alert.last_fix_at, alert.last_location_source = None, None
        alert.station_candidates, alert.transit_context = [], None
        alert.purged_at = now
        await session.execute(delete(AlertLocation).where(AlertLocation.alert_id == alert.id))
        await session.execute(delete(AlertNote).where(AlertNote.alert_id == alert.id))
        record(
            session,
            principal=None,
            action="alert.purged",
            object_type="alert",
            object_id=alert.id,
            at=now,
            detail={"retention_days": retention.days},
        )
    await session.flush()
    return len(alerts)


async def run_retention(context: AppContext) -> None:
    """The retention loop's body: purge in batches until nothing is due."""
    retention = timedelta(days=context.settings.security.retention_days)
    while True:
        async with context.sessions() as session:
            purged = await purge_expired_personal_data(
                session, now=context.clock.now(), retention=retention
            )
            await session.commit()
        if purged < 200:
            return

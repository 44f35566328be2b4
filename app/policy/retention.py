"""Retention: alerts that never became a case lose their personal data after a while.

Cancelled, accidental and drill alerts are purged of contact, free text, the raw body, every
location, the notes and what in their routing explanations locates the victim (distances and
ETAs to every post, the station) ``retention_days`` after they closed; the skeleton (case code,
times, states, the units offered with their reason codes, and the audit trail) stays, so reports
and SLAs still add up. Never purged: an alert on legal hold, one with a case file, and one
cancelled under duress — the phone saw a cancel, but for staff the alert is a live emergency,
and its record must survive it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import record
from app.context import AppContext
from app.isolation import drain_isolated
from app.models import Alert, AlertLocation, AlertNote, Case, RoutingDecision

PURGEABLE_DISPOSITIONS = ("accidental", "cancelled_by_victim")
LOOP_NAME = "retention"
BATCH = 200


def purgeable(*, now: datetime, retention: timedelta) -> tuple[ColumnElement[bool], ...]:
    """The SQL condition for an alert whose personal data is due for purging."""
    closed = func.coalesce(Alert.resolved_at, Alert.cancelled_at)
    return (
        # Purged again when points arrived since: the phone's location posts are still taken
        # after its alert ended (answered alike for a genuine and a duress cancel, so both store
        # them), and a purged alert must not gather a new trail.
        or_(Alert.purged_at.is_(None), exists().where(AlertLocation.alert_id == Alert.id)),
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


LOCATING = frozenset({"distance_m", "eta_s", "station_uid", "nearest_post"})
"""Keys of a routing explanation that say where the victim was: distances and ETAs to every
post (enough to triangulate), the station they were at, the post nearest to them."""


def without_location(explanation: Any) -> Any:
    """A routing explanation with what locates the victim emptied (kept as null, so readers see
    the same shape): what reports and the SLA clocks read stays — the units offered, the leg
    kinds, reason and skip codes, the fallback, the policy, availability. Candidates, ranked by
    ETA, are put in code order: their order alone would rank the posts by distance."""
    if isinstance(explanation, list):
        return [without_location(item) for item in explanation]
    if not isinstance(explanation, dict):
        return explanation
    stripped = {
        key: None if key in LOCATING else without_location(value)
        for key, value in explanation.items()
    }
    candidates = stripped.get("candidates")
    if isinstance(candidates, list):
        stripped["candidates"] = sorted(
            candidates, key=lambda c: str(c.get("code")) if isinstance(c, dict) else ""
        )
    return stripped


async def due_for_purge(
    session: AsyncSession,
    *,
    now: datetime,
    retention: timedelta,
    limit: int = BATCH,
    skip: frozenset[uuid.UUID] = frozenset(),
) -> list[uuid.UUID]:
    """``skip``: alerts set aside, left out so they cannot fill the ``limit``."""
    return list(
        await session.scalars(
            select(Alert.id)
            .where(*purgeable(now=now, retention=retention), Alert.id.not_in(skip))
            .order_by(Alert.received_at)
            .limit(limit)
        )
    )


async def purge_alerts(
    session: AsyncSession, alert_ids: Sequence[uuid.UUID], *, now: datetime, retention: timedelta
) -> int:
    """Purge these alerts if still due (flushes; the caller commits). Returns how many."""
    alerts = (
        await session.scalars(
            select(Alert)
            .where(Alert.id.in_(alert_ids), *purgeable(now=now, retention=retention))
            .order_by(Alert.received_at)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for alert in alerts:
        await purge_alert(session, alert, now=now, retention=retention)
    await session.flush()
    return len(alerts)


async def purge_alert(
    session: AsyncSession, alert: Alert, *, now: datetime, retention: timedelta
) -> None:
    alert.private_enc = None
    alert.last_lat = alert.last_lon = alert.last_accuracy_m = None
    alert.last_fix_at, alert.last_location_source = None, None
    alert.station_candidates, alert.transit_context = [], None
    alert.purged_at = now
    await session.execute(delete(AlertLocation).where(AlertLocation.alert_id == alert.id))
    await session.execute(delete(AlertNote).where(AlertNote.alert_id == alert.id))
    for decision in await session.scalars(
        select(RoutingDecision).where(RoutingDecision.alert_id == alert.id)
    ):
        decision.decision = without_location(decision.decision)
    record(
        session,
        principal=None,
        action="alert.purged",
        object_type="alert",
        object_id=alert.id,
        at=now,
        detail={"retention_days": retention.days},
    )


async def run_retention(context: AppContext) -> None:
    """The retention loop's body: purge in batches until nothing is due. One alert that fails
    is set aside, and the rest of its batch is purged (app/isolation.py)."""
    retention = timedelta(days=context.settings.security.retention_days)
    now = context.clock.now()

    async def due(session: AsyncSession, aside: frozenset[str]) -> list[uuid.UUID]:
        skip = frozenset(uuid.UUID(key) for key in aside)
        return await due_for_purge(session, now=now, retention=retention, skip=skip)

    async def work(session: AsyncSession, ids: Sequence[uuid.UUID]) -> int:
        return await purge_alerts(session, ids, now=now, retention=retention)

    await drain_isolated(context, loop=LOOP_NAME, batch=BATCH, due=due, work=work)

"""Keeping an alert's clock rows in step with its timestamps, and firing warnings and breaches.

In: an alert (locked by the caller) and "now". Out: ``sla_clock`` rows created, stopped, warned
or breached, with ``sla.warning`` / ``sla.breached`` outbox events and a notification to the
supervisor on breach — each at most once, because rows are only changed under the alert's lock
and ``warned_at`` / ``breached_at`` are written once. Escalating is the dispatcher's job, not this.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import DispatchSettings, SlaSettings
from app.dispatch import notify
from app.events import emit
from app.models import Alert, Assignment, Case, Region, RoutingDecision, SlaClock
from app.sla.policy import (
    AlertTimes,
    ClockPlan,
    Targets,
    closed_at,
    excluded,
    outcome,
    plan_clocks,
)

OPEN_STATUSES = ("running", "warning")


def targets_of(settings: SlaSettings) -> Targets:
    return Targets(
        version=settings.policy_version,
        seconds=settings.targets_s,
        warn_fraction=settings.warn_fraction,
    )


async def times_of(session: AsyncSession, alert: Alert) -> AlertTimes:
    first_accept = await session.scalar(
        select(Assignment.leg_kind)
        .where(Assignment.alert_id == alert.id, Assignment.accepted_at.is_not(None))
        .order_by(Assignment.accepted_at)
        .limit(1)
    )
    case = await session.scalar(select(Case).where(Case.alert_id == alert.id))
    milestones = {}
    if case is not None:
        milestones = {
            name: datetime.fromisoformat(entry["at"]) for name, entry in case.milestones.items()
        }
    return AlertTimes(
        received_at=alert.received_at,
        routed_at=alert.routed_at,
        acknowledged_at=alert.acknowledged_at,
        contacted_at=alert.contacted_at,
        on_scene_at=alert.on_scene_at,
        handed_over_at=alert.handed_over_at,
        resolved_at=alert.resolved_at,
        cancelled_at=alert.cancelled_at,
        state=alert.state,
        is_drill=alert.is_drill,
        disposition=alert.disposition,
        do_not_call_back=alert.do_not_call_back,
        responder_kind=None
        if first_accept is None
        else ("transit" if first_accept == "transit" else "post"),
        case_opened_at=case.opened_at if case else None,
        risk_level=case.risk_level if case else None,
        violence_types=tuple(case.violence_types) if case else (),
        milestones=milestones,
    )


async def sync_alert(
    session: AsyncSession,
    *,
    alert: Alert,
    sla: SlaSettings,
    dispatch: DispatchSettings,
    now: datetime,
) -> list[tuple[str, float]]:
    """Bring the alert's clocks up to date; the caller holds the alert's lock and commits.
    Returns the (clock, seconds) intervals that were measured to their end in this sync."""
    times = await times_of(session, alert)
    targets = targets_of(sla)
    existing = {
        row.clock: row
        for row in (
            await session.scalars(select(SlaClock).where(SlaClock.alert_id == alert.id))
        ).all()
    }
    ended = closed_at(times)
    is_excluded = excluded(times)
    measured: list[tuple[str, float]] = []
    for plan in plan_clocks(times):
        row = existing.get(plan.clock)
        if row is None:
            warn_at, deadline_at = targets.deadlines(plan)
            row = SlaClock(
                id=uuid.uuid4(),
                alert_id=alert.id,
                clock=plan.clock,
                target_key=plan.target_key,
                policy_version=targets.version,  # history keeps the policy it was measured by
                started_at=plan.started_at,
                warn_at=warn_at,
                deadline_at=deadline_at,
                status="running",
                next_at=warn_at,
                excluded=is_excluded,
            )
            session.add(row)
        row.excluded = is_excluded
        row.stopped_at = plan.stopped_at
        if row.status not in OPEN_STATUSES:
            continue
        await _advance(
            session, alert=alert, row=row, plan=plan, ended=ended, now=now, dispatch=dispatch
        )
        if row.status not in OPEN_STATUSES and plan.stopped_at is not None and not is_excluded:
            measured.append((row.clock, (plan.stopped_at - plan.started_at).total_seconds()))
    alert.sla_dirty = False
    return measured


async def _advance(
    session: AsyncSession,
    *,
    alert: Alert,
    row: SlaClock,
    plan: ClockPlan,
    ended: datetime | None,
    now: datetime,
    dispatch: DispatchSettings,
) -> None:
    result = outcome(plan, deadline_at=row.deadline_at, alert_closed_at=ended, now=now)
    if result in ("met", "closed"):
        row.status, row.next_at = result, None
        return
    if result == "breached":
        row.status, row.next_at = "breached", None
        row.breached_at = now
        row.breach_cause = await _cause(session, alert, row.clock)
        if not row.excluded:
            emit(
                session,
                "sla.breached",
                at=now,
                alert_id=alert.id,
                data={
                    "clock": row.clock,
                    "deadline_at": row.deadline_at.isoformat(),
                    "cause": row.breach_cause,
                    "case_code": alert.case_code,
                },
            )
            await _tell_supervisors(session, alert=alert, row=row, now=now, settings=dispatch)
        return
    if now >= row.warn_at and row.warned_at is None:
        row.status, row.warned_at, row.next_at = "warning", now, row.deadline_at
        if not row.excluded:
            emit(
                session,
                "sla.warning",
                at=now,
                alert_id=alert.id,
                data={
                    "clock": row.clock,
                    "deadline_at": row.deadline_at.isoformat(),
                    "case_code": alert.case_code,
                },
            )
        return
    row.next_at = row.warn_at if row.warned_at is None else row.deadline_at


async def _cause(session: AsyncSession, alert: Alert, clock: str) -> str:
    """Why a clock breached, in the words a report needs."""
    if clock == "routing":
        return "dispatch_delayed"
    if clock != "acknowledgement":
        return "not_recorded_in_time"
    first = await session.scalar(
        select(RoutingDecision.decision).where(
            RoutingDecision.alert_id == alert.id, RoutingDecision.step == 0
        )
    )
    if first is not None and first.get("fallback") == "nobody_available":
        return "nobody_on_duty"
    statuses = set(
        (
            await session.scalars(select(Assignment.status).where(Assignment.alert_id == alert.id))
        ).all()
    )
    if "declined" in statuses:
        return "declined"
    if "expired" in statuses:
        return "timed_out"
    if alert.escalations:
        return "escalated"
    return "no_answer"


async def _tell_supervisors(
    session: AsyncSession, *, alert: Alert, row: SlaClock, now: datetime, settings: DispatchSettings
) -> None:
    region = await session.get(Region, alert.region_code)
    recipients = await notify.supervisors_on_duty(
        session,
        region_code=alert.region_code,
        central_code=region.central_desk_code if region else "central",
        at=now,
    )
    drill = "[LATIHAN/DRILL] " if alert.is_drill else ""
    await notify.queue(
        session,
        recipients=recipients,
        kind="sla_breached",
        text=f"{drill}Sigap {alert.case_code}: {row.clock.replace('_', ' ')} deadline missed "
        f"({row.breach_cause}).",
        alert_id=alert.id,
        ref=row.clock,
        now=now,
        settings=settings,
    )

"""Keeping an alert's clock rows in step with its timestamps, and firing warnings and breaches.

In: an alert (locked by the caller) and "now". Out: ``sla_clock`` rows created, stopped, warned
or breached, with ``sla.warning`` / ``sla.breached`` outbox events and a notification to the
supervisor on breach — each at most once, because rows are only changed under the alert's lock
and ``warned_at`` / ``breached_at`` are written once. Escalating is the dispatcher's job, not this.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import notify
from app.config import DispatchSettings, SlaSettings
from app.db import note_written
from app.events import emit
from app.models import Alert, Assignment, Case, RoutingDecision, SlaClock
from app.sla.policy import (
    ALERT_CLOCKS,
    AlertTimes,
    ClockPlan,
    Targets,
    closed_at,
    excluded,
    outcome,
    plan_clocks,
    status_at,
)

OPEN_STATUSES = ("running", "warning")


def targets_of(settings: SlaSettings) -> Targets:
    return Targets(
        version=settings.policy_version,
        seconds=settings.targets_s,
        warn_fraction=settings.warn_fraction,
    )


@dataclass
class BatchFacts:
    """Everything a batch of alerts' clocks depend on, read in a handful of queries."""

    first_accept: dict[uuid.UUID, str] = field(default_factory=dict)
    cases: dict[uuid.UUID, Case] = field(default_factory=dict)
    clocks: dict[uuid.UUID, dict[str, SlaClock]] = field(default_factory=dict)
    first_fallback: dict[uuid.UUID, str | None] = field(default_factory=dict)
    leg_statuses: dict[uuid.UUID, set[str]] = field(default_factory=dict)
    supervisors: dict[str, list[uuid.UUID]] = field(default_factory=dict)
    messages: list[notify.Message] = field(default_factory=list)


async def load_facts(
    session: AsyncSession, alerts: Sequence[Alert], *, now: datetime
) -> BatchFacts:
    ids = [a.id for a in alerts]
    facts = BatchFacts()
    legs = (
        await session.execute(
            select(
                Assignment.alert_id, Assignment.leg_kind, Assignment.status, Assignment.accepted_at
            )
            .where(Assignment.alert_id.in_(ids))
            .order_by(Assignment.accepted_at)
        )
    ).all()
    for alert_id, kind, status, accepted_at in legs:
        facts.leg_statuses.setdefault(alert_id, set()).add(status)
        if accepted_at is not None and alert_id not in facts.first_accept:
            facts.first_accept[alert_id] = kind
    for case in (await session.scalars(select(Case).where(Case.alert_id.in_(ids)))).all():
        facts.cases[case.alert_id] = case
    for row in (await session.scalars(select(SlaClock).where(SlaClock.alert_id.in_(ids)))).all():
        facts.clocks.setdefault(row.alert_id, {})[row.clock] = row
    for alert_id, decision in (
        await session.execute(
            select(RoutingDecision.alert_id, RoutingDecision.decision).where(
                RoutingDecision.alert_id.in_(ids), RoutingDecision.step == 0
            )
        )
    ).all():
        facts.first_fallback[alert_id] = decision.get("fallback")
    for region_code in {a.region_code for a in alerts}:
        facts.supervisors[region_code] = await notify.supervisors_on_duty(
            session,
            region_code=region_code,
            at=now,
        )
    return facts


def times_of(alert: Alert, facts: BatchFacts) -> AlertTimes:
    first_accept = facts.first_accept.get(alert.id)
    case = facts.cases.get(alert.id)
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
        reopened_at=alert.reopened_at,
    )


async def sync_alerts(
    session: AsyncSession,
    alerts: Sequence[Alert],
    *,
    sla: SlaSettings,
    dispatch: DispatchSettings,
    now: datetime,
) -> list[tuple[str, float]]:
    """Bring these alerts' clocks up to date; the caller holds their locks and commits.
    Returns the (clock, seconds) intervals that were measured to their end in this sync."""
    if not alerts:
        return []
    facts = await load_facts(session, alerts, now=now)
    measured: list[tuple[str, float]] = []
    for alert in alerts:
        measured += _sync_one(session, alert=alert, facts=facts, targets=targets_of(sla), now=now)
    if facts.messages:
        note_written(session.sync_session, "notification")  # wakes the notifier at commit
        await notify.queue_many(session, facts.messages, now=now, settings=dispatch)
    return measured


def _sync_one(
    session: AsyncSession,
    *,
    alert: Alert,
    facts: BatchFacts,
    targets: Targets,
    now: datetime,
) -> list[tuple[str, float]]:
    times = times_of(alert, facts)
    existing = facts.clocks.get(alert.id, {})
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
        _advance(session, alert=alert, row=row, plan=plan, ended=ended, now=now, facts=facts)
        if row.status not in OPEN_STATUSES and plan.stopped_at is not None and not is_excluded:
            measured.append((row.clock, (plan.stopped_at - plan.started_at).total_seconds()))
    planned = {plan.clock for plan in plan_clocks(times)}
    for name, row in existing.items():
        if name not in planned and row.status in OPEN_STATUSES:
            # No longer applies (first contact after "do not call back"): close it, or the
            # monitor would find it due forever.
            row.status, row.next_at = "closed", None
    alert.sla_dirty = False
    return measured


def _advance(
    session: AsyncSession,
    *,
    alert: Alert,
    row: SlaClock,
    plan: ClockPlan,
    ended: datetime | None,
    now: datetime,
    facts: BatchFacts,
) -> None:
    result = outcome(plan, deadline_at=row.deadline_at, alert_closed_at=ended, now=now)
    if result in ("met", "closed"):
        row.status, row.next_at = result, None
        return
    if result == "breached":
        row.status, row.next_at = "breached", None
        row.breached_at = now
        row.breach_cause = _cause(alert, row.clock, facts)
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
            drill = "[LATIHAN/DRILL] " if alert.is_drill else ""
            facts.messages.append(
                notify.Message(
                    recipients=tuple(facts.supervisors.get(alert.region_code, [])),
                    kind="sla_breached",
                    text=f"{drill}Sigap {alert.case_code}: {row.clock.replace('_', ' ')} "
                    f"deadline missed ({row.breach_cause}).",
                    alert_id=alert.id,
                    ref=row.clock,
                )
            )
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


def _cause(alert: Alert, clock: str, facts: BatchFacts) -> str:
    """Why a clock breached, in the words a report needs."""
    if clock == "routing":
        return "dispatch_delayed"
    if clock != "acknowledgement":
        return "not_recorded_in_time"
    if facts.first_fallback.get(alert.id) == "nobody_available":
        return "nobody_on_duty"
    statuses = facts.leg_statuses.get(alert.id, set())
    if "declined" in statuses:
        return "declined"
    if "expired" in statuses:
        return "timed_out"
    if alert.escalations:
        return "escalated"
    return "no_answer"


@dataclass(frozen=True)
class ClockNow:
    """A clock as it stands now, which its stored row may not show yet."""

    status: str
    stopped_at: datetime | None
    excluded: bool


def clocks_now(alert: Alert, rows: Sequence[SlaClock], *, now: datetime) -> dict[str, ClockNow]:
    """Per clock, what it is at ``now`` given the alert's stamps as they are: what the monitor
    will write at its next pass (``policy.status_at``), shown without waiting for it. A resolved
    or cancelled alert's clocks never read as running, even the instant it closes. The alert
    clocks' stops come from the alert itself; the case clocks' from their rows (the case's
    milestones), which run on after the alert ends. A breach's cause is the monitor's to find."""
    times = times_of(alert, BatchFacts())
    plans = {plan.clock: plan for plan in plan_clocks(times)}
    ended = closed_at(times)
    is_excluded = excluded(times)
    found: dict[str, ClockNow] = {}
    for row in rows:
        if row.clock in ALERT_CLOCKS:
            plan = plans.get(row.clock)
        else:
            plan = ClockPlan(row.clock, row.target_key, row.started_at, row.stopped_at)
        found[row.clock] = ClockNow(
            status=status_at(
                row.status,
                plan,
                warn_at=row.warn_at,
                deadline_at=row.deadline_at,
                alert_closed_at=ended,
                now=now,
            ),
            stopped_at=plan.stopped_at if plan else row.stopped_at,
            excluded=is_excluded,
        )
    return found


def clocks_at_receipt(alert: Alert, *, sla: SlaSettings) -> list[SlaClock]:
    """The clocks a new alert has from its first instant (routing), for the press to write in
    its own transaction: they run even while the dispatcher is behind, and the monitor has no
    pass to make for a new alert. Marks the alert in step with its clocks."""
    times = times_of(alert, BatchFacts())
    targets = targets_of(sla)
    is_excluded = excluded(times)
    rows = []
    for plan in plan_clocks(times):
        warn_at, deadline_at = targets.deadlines(plan)
        rows.append(
            SlaClock(
                id=uuid.uuid4(),
                alert_id=alert.id,
                clock=plan.clock,
                target_key=plan.target_key,
                policy_version=targets.version,
                started_at=plan.started_at,
                warn_at=warn_at,
                deadline_at=deadline_at,
                stopped_at=plan.stopped_at,
                status="running",
                next_at=warn_at,
                excluded=is_excluded,
            )
        )
    alert.sla_dirty = False
    return rows

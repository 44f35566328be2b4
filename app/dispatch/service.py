"""Dispatch work items: route a new alert, re-route a moving one, expire offers and leases,
follow up a repeat press.

In: one ``DispatchTask`` row, inside the worker's transaction. Out: decisions, offers and outbox
events in that same transaction; the task row is deleted with them, so the work happens once.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.dispatch.ladder import (
    LADDER_KINDS,
    OPEN,
    advance,
    decision_legs,
    legs_of,
    offer,
    withdraw,
)
from app.dispatch.messages import tell_supervisors
from app.dispatch.repeat_press import tell_of_repeat_press
from app.dispatch.routing import decide
from app.dispatch.routing_input import build_input
from app.dispatch.runtime import Dispatch, snapshot_for
from app.dispatch.timers import finish_task
from app.events import emit
from app.models import Alert, Assignment, DispatchTask
from app.states import AlertState, transition
from app.tasks import schedule


async def lock_alert(session: AsyncSession, alert_id: uuid.UUID) -> Alert | None:
    """The alert row, locked for this transaction (PostgreSQL; SQLite holds the database lock)."""
    alert: Alert | None = await session.scalar(
        select(Alert)
        .where(Alert.id == alert_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return alert


async def run_task(
    session: AsyncSession, *, task: DispatchTask, alert: Alert, dispatch: Dispatch, now: datetime
) -> None:
    """Do one task and delete it; the caller holds the task's and the alert's locks and commits."""
    ran_for = task.due_at
    if task.kind == "route":
        await route(session, alert=alert, dispatch=dispatch, now=now)
    elif task.kind == "offer_deadline":
        await offer_deadline(
            session, alert=alert, assignment_id=uuid.UUID(task.ref), dispatch=dispatch, now=now
        )
    elif task.kind == "lease_expiry":
        await lease_expiry(
            session, alert=alert, assignment_id=uuid.UUID(task.ref), dispatch=dispatch, now=now
        )
    elif task.kind == "repeat_press":
        await tell_of_repeat_press(
            session,
            alert=alert,
            press_count=int(task.ref),
            pressed_at=ran_for,
            now=now,
            settings=dispatch.settings,
        )
    await finish_task(session, task, ran_for=ran_for)  # keeps a timer the handler moved


async def route(session: AsyncSession, *, alert: Alert, dispatch: Dispatch, now: datetime) -> None:
    """First decision for a new alert; for a routed one, re-route when the victim has moved."""
    state = AlertState(alert.state)
    if state in (AlertState.RESOLVED, AlertState.CANCELLED):
        await withdraw(
            session,
            legs=await legs_of(session, alert.id),
            reason=f"alert {state}",
            code="alert_closed",
            now=now,
        )
        return
    if state is AlertState.RECEIVED:
        reopened = alert.reopen_count > 0
        if reopened:
            # Routed afresh, as a new press would be: the earlier cycle's offers and claims
            # end here (its history stays in the events).
            await withdraw(
                session,
                legs=await legs_of(session, alert.id),
                reason="reopened by a new press",
                code="reopened",
                now=now,
            )
            if alert.flood_suspected_at is not None:
                await _set_aside_as_flood(session, alert=alert, dispatch=dispatch, now=now)
                return
        snapshot = await snapshot_for(session, alert, dispatch, now)
        routing_input = await build_input(
            session,
            alert,
            snapshot,
            policy=dispatch.policy,
            now=now,
            attempted=frozenset(),
            include_transit=True,
        )
        decision = decide(routing_input)
        legs = decision_legs(decision)
        if reopened:
            legs = await within_ring_bound(
                session, alert=alert, legs=legs, dispatch=dispatch, now=now
            )
            if not any(kind in LADDER_KINDS for _, kind, *_ in legs):
                # Every unit it would ring has had its share of this phone's cycles.
                alert.flood_suspected_at = now
                emit(
                    session,
                    "alert.flood_suspected",
                    at=now,
                    alert_id=alert.id,
                    data={"reopen_count": alert.reopen_count, "reason": "ring_bound"},
                )
                await _set_aside_as_flood(session, alert=alert, dispatch=dispatch, now=now)
                return
        await offer(
            session,
            alert=alert,
            decision=decision,
            explanation=decision.to_json(),
            legs=legs,
            trigger="reopened" if reopened else "received",
            snapshot=snapshot,
            dispatch=dispatch,
            now=now,
        )
        return
    if state is AlertState.ROUTED:
        await _reroute_if_moved(session, alert=alert, dispatch=dispatch, now=now)
    # Acknowledged or later: the holder follows the alert's own location events.


async def within_ring_bound(
    session: AsyncSession,
    *,
    alert: Alert,
    legs: list[tuple[str, str, str, str | None]],
    dispatch: Dispatch,
    now: datetime,
) -> list[tuple[str, str, str, str | None]]:
    """The legs of a reopen, less those to units already offered ``ring_max_offers_per_unit``
    of this device's alerts within ``ring_window_s``: one phone's press/cancel cycles cannot
    keep ringing a unit (docs/dispatch.md, "Floods")."""
    settings = dispatch.settings
    offered: dict[str, int] = {
        code: int(count)
        for code, count in (
            await session.execute(
                select(Assignment.unit_code, func.count())
                .join(Alert, Alert.id == Assignment.alert_id)
                .where(
                    Alert.device_id == alert.device_id,
                    Assignment.offered_at > now - timedelta(seconds=settings.ring_window_s),
                )
                .group_by(Assignment.unit_code)
            )
        ).all()
    }
    return [leg for leg in legs if offered.get(leg[0], 0) < settings.ring_max_offers_per_unit]


async def _set_aside_as_flood(
    session: AsyncSession, *, alert: Alert, dispatch: Dispatch, now: datetime
) -> None:
    """A suspected flood stays open for staff as one attention item (``alert.flood_suspected``)
    and is offered to nobody; the supervisors on duty are told once."""
    transition(alert, AlertState.ROUTED, at=now)
    snapshot = await snapshot_for(session, alert, dispatch, now)
    await tell_supervisors(
        session,
        alert=alert,
        snapshot=snapshot,
        dispatch=dispatch,
        now=now,
        kind="flood_suspected",
        ref="flood",
        what=(
            f"pressed and cancelled again and again ({alert.reopen_count} reopens): kept open "
            "for you, not offered to units again."
        ),
    )


async def _reroute_if_moved(
    session: AsyncSession, *, alert: Alert, dispatch: Dispatch, now: datetime
) -> None:
    legs = await legs_of(session, alert.id)
    open_offers = [leg for leg in legs if leg.status == "offered"]
    tried = frozenset(
        leg.unit_code
        for leg in legs
        if leg.leg_kind in LADDER_KINDS and leg.status in ("expired", "declined")
    )
    # A transit desk that already let its offer lapse or declined is not asked again.
    transit_closed = any(
        leg.leg_kind == "transit" and leg.status not in ("offered", "withdrawn") for leg in legs
    )
    snapshot = await snapshot_for(session, alert, dispatch, now)
    routing_input = await build_input(
        session,
        alert,
        snapshot,
        policy=dispatch.policy,
        now=now,
        attempted=tried,
        include_transit=True,
    )
    decision = decide(routing_input)
    wanted = [w for w in decision_legs(decision) if not (transit_closed and w[1] == "transit")]
    current = {(leg.unit_code, leg.leg_kind) for leg in open_offers}
    if {(code, kind) for code, kind, *_ in wanted} == current:
        return  # still the right units: nothing to withdraw, nothing to re-offer
    keep = {(code, kind) for code, kind, *_ in wanted}
    await withdraw(
        session,
        legs=[leg for leg in open_offers if (leg.unit_code, leg.leg_kind) not in keep],
        reason="victim moved: re-routed",
        code="rerouted",
        now=now,
    )
    new_legs = [leg for leg in wanted if (leg[0], leg[1]) not in current]
    if new_legs:
        await offer(
            session,
            alert=alert,
            decision=decision,
            explanation=decision.to_json(),
            legs=new_legs,
            trigger="location_changed",
            snapshot=snapshot,
            dispatch=dispatch,
            now=now,
        )


async def offer_deadline(
    session: AsyncSession,
    *,
    alert: Alert,
    assignment_id: uuid.UUID,
    dispatch: Dispatch,
    now: datetime,
) -> None:
    leg = await session.get(Assignment, assignment_id, populate_existing=True)
    if leg is None or leg.status != "offered":
        return  # accepted, declined or withdrawn in time
    leg.status, leg.closed_at = "expired", now
    leg.close_reason = "not accepted in time"
    emit(
        session,
        "assignment.expired",
        at=now,
        alert_id=alert.id,
        data={"assignment_id": str(leg.id), "unit_code": leg.unit_code, "reason": "timeout"},
    )
    if AlertState(alert.state) in (AlertState.RESOLVED, AlertState.CANCELLED):
        return
    if leg.leg_kind in LADDER_KINDS:
        await advance(session, alert=alert, trigger="timed_out", dispatch=dispatch, now=now)
    else:
        snapshot = await snapshot_for(session, alert, dispatch, now)
        await tell_supervisors(
            session,
            alert=alert,
            snapshot=snapshot,
            dispatch=dispatch,
            now=now,
            kind="transit_unanswered",
            ref=str(leg.id),
            what=f"{leg.unit_code} did not acknowledge; the post ladder continues.",
        )


async def lease_expiry(
    session: AsyncSession,
    *,
    alert: Alert,
    assignment_id: uuid.UUID,
    dispatch: Dispatch,
    now: datetime,
) -> None:
    """A claim whose holder went quiet lapses and the same unit is offered the alert again."""
    leg = await session.get(Assignment, assignment_id, populate_existing=True)
    if leg is None or leg.status != "accepted" or leg.lease_expires_at is None:
        return
    if leg.lease_expires_at > now:  # renewed since this timer was set
        await schedule(
            session,
            alert_id=alert.id,
            kind="lease_expiry",
            ref=str(leg.id),
            due_at=leg.lease_expires_at,
            now=now,
            replace_due=True,
        )
        return
    if AlertState(alert.state) in (AlertState.RESOLVED, AlertState.CANCELLED):
        return
    leg.status, leg.closed_at = "lapsed", now
    leg.close_reason = "claim lease expired without activity"
    emit(
        session,
        "assignment.expired",
        at=now,
        alert_id=alert.id,
        data={"assignment_id": str(leg.id), "unit_code": leg.unit_code, "reason": "lease"},
    )
    await reoffer(
        session,
        alert=alert,
        unit_code=leg.unit_code,
        leg_kind=leg.leg_kind,
        trigger="lease_expired",
        dispatch=dispatch,
        now=now,
    )


async def reoffer(
    session: AsyncSession,
    *,
    alert: Alert,
    unit_code: str,
    leg_kind: str,
    trigger: str,
    dispatch: Dispatch,
    now: datetime,
    note: str | None = None,
) -> None:
    """Offer the alert to one named unit as a new step (lease lapse, broken claim, reassignment)."""
    snapshot = await snapshot_for(session, alert, dispatch, now)
    if unit_code not in snapshot.unit_ids:
        raise LookupError(unit_code)
    explanation = {"reoffer": {"unit_code": unit_code, "trigger": trigger, "note": note}}
    legs = await legs_of(session, alert.id)
    if leg_kind in LADDER_KINDS:
        await withdraw(
            session,
            legs=[g for g in legs if g.leg_kind in LADDER_KINDS and g.status in OPEN],
            reason=trigger.replace("_", " "),
            code=trigger,
            now=now,
        )
    await offer(
        session,
        alert=alert,
        decision=None,
        explanation=explanation,
        legs=[(unit_code, leg_kind, trigger, None)],
        trigger=trigger,
        snapshot=snapshot,
        dispatch=dispatch,
        now=now,
    )
    await tell_supervisors(
        session,
        alert=alert,
        snapshot=snapshot,
        dispatch=dispatch,
        now=now,
        kind=trigger,
        ref=str(alert.dispatch_step),
        what=f"re-offered to {unit_code} ({trigger}).",
    )

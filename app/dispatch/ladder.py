"""The escalation ladder: turning routing decisions into offers, and moving on when nobody answers.

Every function here runs inside a transaction that holds the alert's row lock, so decisions for
one alert are serialised; the unique (alert, step) key on ``routing_decision`` makes a second
decision for the same step impossible even if two workers got this far.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.dispatch.availability import RegionSnapshot
from app.dispatch.messages import offer_text, queue_message, tell_supervisors
from app.dispatch.routing import Decision, decide
from app.dispatch.routing_input import build_input
from app.dispatch.runtime import Dispatch, snapshot_for
from app.events import emit
from app.models import Alert, Assignment, RoutingDecision
from app.states import AlertState, transition
from app.tasks import schedule_new

OPEN = ("offered", "accepted")
LADDER_KINDS = ("post", "central")


async def legs_of(session: AsyncSession, alert_id: uuid.UUID) -> list[Assignment]:
    return list(
        (
            await session.scalars(
                select(Assignment)
                .where(Assignment.alert_id == alert_id)
                .order_by(Assignment.step, Assignment.offered_at, Assignment.unit_code)
            )
        ).all()
    )


async def offer(
    session: AsyncSession,
    *,
    alert: Alert,
    decision: Decision | None,
    explanation: dict[str, Any],
    legs: list[tuple[str, str, str, str | None]],
    trigger: str,
    snapshot: RegionSnapshot,
    dispatch: Dispatch,
    now: datetime,
) -> RoutingDecision:
    """Record decision ``alert.dispatch_step + 1`` (or 0 for the first) and offer its legs.

    ``legs`` are (unit code, leg kind, reason, preferred sex).
    """
    first = AlertState(alert.state) is AlertState.RECEIVED
    # A reopened alert (received again) starts a new ladder after its earlier decisions.
    step = 0 if first and not alert.reopen_count else alert.dispatch_step + 1
    record = RoutingDecision(
        id=uuid.uuid4(),
        alert_id=alert.id,
        step=step,
        trigger=trigger,
        policy=decision.policy if decision else dispatch.settings.policy,
        decision=explanation,
        created_at=now,
    )
    # The flush inserts it before its legs (they reference it); the unique (alert, step) key
    # refuses a second decision for this step there, failing the whole transaction.
    # Which kind of availability put each offered unit on the list (the routing explanation
    # says whether a console at the post or an on-call person answered for it).
    record.decision = {
        **explanation,
        "availability": {code: snapshot.modes.get(code, {}) for code, *_ in legs},
    }
    session.add(record)
    alert.dispatch_step = step
    if first:
        transition(alert, AlertState.ROUTED, at=now)
    offered: list[Assignment] = []
    for code, kind, reason, preferred in legs:
        timeout = dispatch.settings.ack_timeout_s.get(kind, 60.0)
        leg = Assignment(
            id=uuid.uuid4(),
            alert_id=alert.id,
            decision_id=record.id,
            step=step,
            unit_id=snapshot.unit_ids[code],
            unit_code=code,
            leg_kind=kind,
            reason=reason,
            status="offered",
            preferred_sex=preferred,
            offered_at=now,
            deadline_at=now + timedelta(seconds=timeout),
        )
        session.add(leg)
        offered.append(leg)
    emit(
        session,
        "alert.routed",
        at=now,
        alert_id=alert.id,
        data={
            "step": step,
            "trigger": trigger,
            "policy": record.policy,
            "units": [leg.unit_code for leg in offered],
            "fallback": explanation.get("fallback"),
            "uncertain": explanation.get("uncertain", False),
            "is_drill": alert.is_drill,
        },
    )
    for leg in offered:
        schedule_new(
            session,
            alert_id=alert.id,
            kind="offer_deadline",
            ref=str(leg.id),
            due_at=leg.deadline_at,
        )
        emit(
            session,
            "assignment.offered",
            at=now,
            alert_id=alert.id,
            data={
                "assignment_id": str(leg.id),
                "unit_code": leg.unit_code,
                "leg_kind": leg.leg_kind,
                "reason": leg.reason,
                "step": step,
                "deadline_at": leg.deadline_at.isoformat(),
                "case_code": alert.case_code,
                "is_drill": alert.is_drill,
            },
        )
        await queue_message(
            session,
            recipients=snapshot.reach.get(leg.unit_code, []),
            kind="offer",
            text=offer_text(alert, leg.unit_code, snapshot, dispatch.console_url),
            alert_id=alert.id,
            ref=str(leg.id),
            now=now,
            dispatch=dispatch,
            first=first,  # a new alert's or a reopen's first offers
        )
    ladder = [leg for leg in offered if leg.leg_kind in LADDER_KINDS]
    central = snapshot.central_code
    # Earlier ladder legs still open (a post's offer while a transit leg is added, a claim
    # held while transit is re-offered) mean someone may still answer, and anyone holding a leg
    # (a transit guard on the spot) means the alert is held: no hand-off for either.
    # (The new legs are not flushed yet, so this lists only the earlier ones.)
    earlier = [] if first else await legs_of(session, alert.id)  # a first decision: no query
    earlier_open = [g for g in earlier if g.leg_kind in LADDER_KINDS and g.status in OPEN]
    held = any(g.status == "accepted" for g in earlier)
    empty_central = any(
        leg.unit_code == central and not snapshot.members.get(central) for leg in ladder
    )
    if not held and ((not ladder and not earlier_open) or empty_central):
        # Nobody to take it on the ladder, or an empty central desk: hand off to 112 now
        # rather than wait out a timeout nobody can beat.
        await transfer(
            session,
            alert=alert,
            reason="central desk unavailable",
            snapshot=snapshot,
            dispatch=dispatch,
            now=now,
        )
    return record


def decision_legs(decision: Decision) -> list[tuple[str, str, str, str | None]]:
    return [(leg.unit_code, leg.kind, leg.reason, leg.preferred_sex) for leg in decision.legs]


async def withdraw(
    session: AsyncSession, *, legs: list[Assignment], reason: str, code: str, now: datetime
) -> None:
    """Close these legs' open offers and claims. ``reason`` is for UPTD PPA staff and may hold a
    supervisor's free text; ``code`` (``alert_closed``, ``rerouted``, ``accepted_elsewhere``,
    ``claim_broken``, ``reassigned``, ``lease_expired``) is what transit staff and integrators
    are told instead (``app.policy.profile``)."""
    for leg in legs:
        if leg.status not in OPEN:
            continue
        leg.status = "withdrawn" if leg.status == "offered" else "released"
        leg.closed_at, leg.close_reason = now, reason
        emit(
            session,
            "assignment.withdrawn",
            at=now,
            alert_id=leg.alert_id,
            data={
                "assignment_id": str(leg.id),
                "unit_code": leg.unit_code,
                "reason": reason,
                "reason_code": code,
            },
        )


async def advance(
    session: AsyncSession,
    *,
    alert: Alert,
    trigger: str,
    dispatch: Dispatch,
    now: datetime,
) -> None:
    """Move the post ladder on after an offer timed out or was declined — at once, skipping any
    step that resolves to nobody."""
    if AlertState(alert.state) in (AlertState.RESOLVED, AlertState.CANCELLED):
        return
    legs = await legs_of(session, alert.id)
    ladder = [leg for leg in legs if leg.leg_kind in LADDER_KINDS]
    if any(leg.status in OPEN for leg in ladder):
        return  # another post of this step may still accept, or someone holds the alert
    snapshot = await snapshot_for(session, alert, dispatch, now)
    central = snapshot.central_code
    attempted = frozenset(leg.unit_code for leg in ladder)
    # Someone holds a leg (a transit guard on the spot): the alert is held, so the follow-up
    # goes to the next post and the central desk together, and never to 112.
    held = any(leg.status == "accepted" for leg in legs)
    if central in attempted:
        if held:
            await tell_supervisors(
                session,
                alert=alert,
                snapshot=snapshot,
                dispatch=dispatch,
                now=now,
                kind="follow_up_unanswered",
                ref=str(alert.dispatch_step),
                what="no complaint post or central desk took the follow-up; transit holds it.",
            )
            return
        await transfer(
            session,
            alert=alert,
            reason="central desk did not acknowledge",
            snapshot=snapshot,
            dispatch=dispatch,
            now=now,
        )
        return
    routing_input = await build_input(
        session,
        alert,
        snapshot,
        policy=dispatch.policy,
        now=now,
        attempted=attempted,
        include_transit=False,
    )
    decision = decide(routing_input)
    chosen = decision_legs(decision)
    if held and central in snapshot.unit_ids and all(code != central for code, *_ in chosen):
        chosen.append((central, "central", "follow_up", None))
    previous = [leg.unit_code for leg in ladder if leg.step == alert.dispatch_step]
    alert.escalations += 1
    record = await offer(
        session,
        alert=alert,
        decision=decision,
        explanation=decision.to_json(),
        legs=chosen,
        trigger=trigger,
        snapshot=snapshot,
        dispatch=dispatch,
        now=now,
    )
    emit(
        session,
        "alert.escalated",
        at=now,
        alert_id=alert.id,
        data={
            "step": record.step,
            "trigger": trigger,
            "from_units": previous,
            "to_units": [code for code, *_ in chosen],
            "escalations": alert.escalations,
        },
    )
    await tell_supervisors(
        session,
        alert=alert,
        snapshot=snapshot,
        dispatch=dispatch,
        now=now,
        kind="escalation",
        ref=str(record.step),
        what=f"escalated ({trigger}) to {', '.join(c for c, *_ in chosen)}.",
    )


async def transfer(
    session: AsyncSession,
    *,
    alert: Alert,
    reason: str,
    snapshot: RegionSnapshot,
    dispatch: Dispatch,
    now: datetime,
) -> None:
    """Hand the alert to Jakarta Siaga 112 (once); it stays open for the central desk too.
    A drill never leaves Sigap: the supervisor is told instead."""
    if alert.is_drill:
        await tell_supervisors(
            session,
            alert=alert,
            snapshot=snapshot,
            dispatch=dispatch,
            now=now,
            kind="drill_unanswered",
            ref="drill",
            what=f"drill not taken: {reason}.",
        )
        return
    if alert.transferred_at is not None:
        return
    alert.transferred_at = now
    alert.updated_at = now
    emit(
        session,
        "alert.transferred",
        at=now,
        alert_id=alert.id,
        data={"to": "112", "reason": reason, "case_code": alert.case_code},
    )
    await tell_supervisors(
        session,
        alert=alert,
        snapshot=snapshot,
        dispatch=dispatch,
        now=now,
        kind="transfer",
        ref="112",
        what=f"handed off to 112: {reason}. Follow up now.",
    )

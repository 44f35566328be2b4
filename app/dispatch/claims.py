"""Staff answering offers: accept (a claim with a lease), decline, keep the claim alive, and the
supervisor's tools to break a claim or reassign an alert.

Every function locks the alert row first, so two people accepting at once are serialised: the
first wins, the second gets ``ClaimHeld`` naming the holder. Whether an answer is allowed is
``app.dispatch.permissions``' judgement, the one the read model shows (a transit claim never blocks
a post's leg). A partial unique index on ``assignment`` refuses a second claimed ladder leg even if
this logic were bypassed.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import StaffPrincipal
from app.audit import record
from app.dispatch.ladder import LADDER_KINDS, OPEN, advance, legs_of, withdraw
from app.dispatch.permissions import (
    HANDED_TO_COUNSELOR,
    AlertFacts,
    LegFacts,
    actor_of,
    facts_of,
    may_accept,
    may_break_claim,
    may_decline,
    may_reassign,
)
from app.dispatch.runtime import Dispatch
from app.dispatch.service import lock_alert, reoffer
from app.errors import AlertClosed, NotFound, OfferClosed, ValidationFailed
from app.events import emit
from app.models import Alert, Assignment, StaffUser, Unit
from app.states import AlertState, transition
from app.tasks import schedule

CLOSED_STATES = (AlertState.RESOLVED, AlertState.CANCELLED)


async def _locked(
    session: AsyncSession, assignment_id: uuid.UUID, staff: StaffPrincipal, *, any_unit: bool
) -> tuple[Alert, Assignment]:
    """The leg and its alert (locked). Staff of other units get 404, as if it did not exist."""
    leg = await session.get(Assignment, assignment_id)
    if leg is None or not (any_unit or leg.unit_id == staff.unit_id):
        raise NotFound()
    alert = await lock_alert(session, leg.alert_id)
    assert alert is not None  # legs reference alerts by foreign key
    await session.refresh(leg)
    return alert, leg


_DETAILS = {
    "closed": "The alert is already resolved or cancelled.",
    "role": "Your role does not answer offers.",
}


def _facts_of_leg(facts: AlertFacts, leg_id: uuid.UUID) -> LegFacts:
    return next(g for g in facts.legs if g.id == leg_id)


def _holder_beside(legs: list[Assignment], leg: Assignment) -> Assignment:
    """Who holds the side ``leg`` is on: the UPTD PPA leg (post or central) or the transit one."""
    ppa = leg.leg_kind in LADDER_KINDS
    return next(g for g in legs if (g.leg_kind in LADDER_KINDS) == ppa and g.status == "accepted")


def take_up(
    session: AsyncSession, *, legs: list[Assignment], by: Assignment, now: datetime
) -> None:
    """The UPTD PPA leg's holder (``by``) takes up a transit guard's hand-over to the counselor
    that nobody had taken up yet: the guard is told who took over (an event about her leg)."""
    for leg in legs:
        handed = leg.closed_at if leg.close_reason == HANDED_TO_COUNSELOR else None
        if leg.leg_kind == "transit" and handed is not None and not any(
            # someone held a UPTD PPA leg at or after the hand-over: it was taken up then
            g.leg_kind in LADDER_KINDS
            and g.id != by.id
            and g.accepted_at is not None
            and (g.closed_at is None or g.closed_at >= handed)
            for g in legs
        ):
            emit(
                session,
                "assignment.taken_up",
                at=now,
                alert_id=leg.alert_id,
                data={
                    "assignment_id": str(leg.id),
                    "unit_code": leg.unit_code,
                    "by_assignment_id": str(by.id),
                    "by_unit_code": by.unit_code,
                },
            )


async def _holder_name(session: AsyncSession, leg: Assignment) -> dict[str, str | None]:
    user = await session.get(StaffUser, leg.accepted_by) if leg.accepted_by else None
    return {
        "assignment_id": str(leg.id),
        "unit_code": leg.unit_code,
        "username": user.username if user else None,
        "display_name": user.display_name if user else None,
    }


async def accept(
    session: AsyncSession,
    *,
    assignment_id: uuid.UUID,
    staff: StaffPrincipal,
    dispatch: Dispatch,
    now: datetime,
) -> Assignment:
    alert, leg = await _locked(session, assignment_id, staff, any_unit=False)
    legs = await legs_of(session, alert.id)
    facts = facts_of(alert, legs)
    verdict = may_accept(facts, actor_of(staff), _facts_of_leg(facts, leg.id), now)
    if not verdict.allowed:
        if verdict.reason == "accepted_by_you":
            return leg  # accepting twice is harmless
        if verdict.reason == "held_by_other":
            holder = leg if leg.status == "accepted" else _holder_beside(legs, leg)
            raise verdict.refuse(
                f"{holder.unit_code} already holds this alert.",
                extra={"holder": await _holder_name(session, holder)},
            )
        raise verdict.refuse(_DETAILS.get(verdict.reason or "", f"This offer was {leg.status}."))
    leg.status, leg.accepted_by, leg.accepted_at = "accepted", staff.user_id, now
    leg.closed_at, leg.close_reason = None, None
    leg.lease_expires_at = now + timedelta(seconds=dispatch.settings.lease_s)
    await schedule(
        session,
        alert_id=alert.id,
        kind="lease_expiry",
        ref=str(leg.id),
        due_at=leg.lease_expires_at,
        now=now,
        replace_due=True,
    )
    # The other offers on the same side close: the other plausible posts or the central desk for
    # a UPTD PPA leg, the control desk or station desk for a transit one.
    same_side = LADDER_KINDS if leg.leg_kind in LADDER_KINDS else (leg.leg_kind,)
    await withdraw(
        session,
        legs=[g for g in legs if g.id != leg.id and g.leg_kind in same_side],
        reason=f"accepted by {leg.unit_code}",
        code="accepted_elsewhere",
        now=now,
    )
    if leg.leg_kind in LADDER_KINDS:
        take_up(session, legs=legs, by=leg, now=now)
    if AlertState(alert.state) in (AlertState.RECEIVED, AlertState.ROUTED):
        if alert.state == AlertState.RECEIVED.value:
            transition(alert, AlertState.ROUTED, at=now)
        transition(alert, AlertState.ACKNOWLEDGED, at=now)
    emit(
        session,
        "assignment.accepted",
        at=now,
        alert_id=alert.id,
        data={
            "assignment_id": str(leg.id),
            "unit_code": leg.unit_code,
            "leg_kind": leg.leg_kind,
            "staff_id": str(staff.user_id),
            "lease_expires_at": leg.lease_expires_at.isoformat(),
        },
    )
    record(
        session,
        principal=staff,
        action="assignment.accepted",
        object_type="alert",
        object_id=alert.id,
        at=now,
        detail={"assignment_id": str(leg.id), "unit_code": leg.unit_code},
    )
    return leg


async def decline(
    session: AsyncSession,
    *,
    assignment_id: uuid.UUID,
    staff: StaffPrincipal,
    reason: str,
    dispatch: Dispatch,
    now: datetime,
) -> Assignment:
    alert, leg = await _locked(session, assignment_id, staff, any_unit=False)
    facts = facts_of(alert, await legs_of(session, alert.id))
    verdict = may_decline(facts, actor_of(staff), _facts_of_leg(facts, leg.id))
    if not verdict.allowed:
        raise verdict.refuse(f"This offer was {leg.status}.")
    leg.status, leg.closed_at, leg.close_reason = "declined", now, reason
    emit(
        session,
        "assignment.declined",
        at=now,
        alert_id=alert.id,
        data={"assignment_id": str(leg.id), "unit_code": leg.unit_code, "reason": reason},
    )
    # Not the reason: free text that may describe the victim.
    record(
        session,
        principal=staff,
        action="assignment.declined",
        object_type="alert",
        object_id=alert.id,
        at=now,
        detail={"assignment_id": str(leg.id), "unit_code": leg.unit_code},
    )
    if leg.leg_kind in LADDER_KINDS and AlertState(alert.state) not in CLOSED_STATES:
        await advance(session, alert=alert, trigger="declined", dispatch=dispatch, now=now)
    return leg


async def renew(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    staff_id: uuid.UUID,
    lease_s: float,
    now: datetime,
) -> list[Assignment]:
    """Extend the holder's claims on this alert: any action, or the console's heartbeat."""
    held = (
        await session.scalars(
            select(Assignment).where(
                Assignment.alert_id == alert_id,
                Assignment.accepted_by == staff_id,
                Assignment.status == "accepted",
            )
        )
    ).all()
    for leg in held:
        leg.lease_expires_at = now + timedelta(seconds=lease_s)
        await schedule(
            session,
            alert_id=alert_id,
            kind="lease_expiry",
            ref=str(leg.id),
            due_at=leg.lease_expires_at,
            now=now,
            replace_due=True,
        )
    return list(held)


async def heartbeat(
    session: AsyncSession,
    *,
    assignment_id: uuid.UUID,
    staff: StaffPrincipal,
    dispatch: Dispatch,
    now: datetime,
) -> Assignment:
    alert, leg = await _locked(session, assignment_id, staff, any_unit=False)
    if leg.status != "accepted" or leg.accepted_by != staff.user_id:
        raise OfferClosed("You do not hold this alert any more.")
    if AlertState(alert.state) in CLOSED_STATES:
        raise AlertClosed()
    await renew(
        session,
        alert_id=alert.id,
        staff_id=staff.user_id,
        lease_s=dispatch.settings.lease_s,
        now=now,
    )
    return leg


async def break_claim(
    session: AsyncSession,
    *,
    assignment_id: uuid.UUID,
    staff: StaffPrincipal,
    reason: str,
    dispatch: Dispatch,
    now: datetime,
) -> None:
    """A supervisor frees a claim; the same unit is offered the alert again."""
    alert, leg = await _locked(session, assignment_id, staff, any_unit=True)
    facts = facts_of(alert, await legs_of(session, alert.id))
    verdict = may_break_claim(facts, actor_of(staff), _facts_of_leg(facts, leg.id))
    if not verdict.allowed:
        raise verdict.refuse(f"This leg is {leg.status}, not claimed.")
    record(
        session,
        principal=staff,
        action="assignment.claim_broken",
        object_type="alert",
        object_id=alert.id,
        at=now,
        detail={"assignment_id": str(leg.id), "reason": reason},
    )
    await withdraw(
        session,
        legs=[leg],
        reason=f"claim broken by supervisor: {reason}",
        code="claim_broken",
        now=now,
    )
    await reoffer(
        session,
        alert=alert,
        unit_code=leg.unit_code,
        leg_kind=leg.leg_kind,
        trigger="claim_broken",
        dispatch=dispatch,
        now=now,
        note=reason,
    )


async def reassign(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    unit_code: str,
    staff: StaffPrincipal,
    reason: str,
    dispatch: Dispatch,
    now: datetime,
) -> None:
    """A supervisor sends the alert to a named unit: open ladder offers and claims end."""
    alert = await lock_alert(session, alert_id)
    if alert is None:
        raise NotFound()
    facts = facts_of(alert, await legs_of(session, alert.id))
    verdict = may_reassign(facts, actor_of(staff))
    if not verdict.allowed:
        raise verdict.refuse("Resolved and cancelled alerts take no reassignment.")
    unit = await session.scalar(select(Unit).where(Unit.code == unit_code, Unit.active))
    if unit is None or unit.region_code != alert.region_code:
        raise ValidationFailed(
            f"No active unit {unit_code!r} in this alert's region.",
            extra={"errors": [{"loc": ["body", "unit_code"], "msg": "unknown unit"}]},
        )
    kind = (
        "transit"
        if unit.kind == "transit_desk"
        else ("central" if unit.kind == "central_desk" else "post")
    )
    record(
        session,
        principal=staff,
        action="alert.reassigned",
        object_type="alert",
        object_id=alert.id,
        at=now,
        detail={"unit_code": unit_code, "reason": reason},
    )
    legs = await legs_of(session, alert.id)
    if kind == "transit":
        await withdraw(
            session,
            legs=[g for g in legs if g.leg_kind == "transit" and g.status in OPEN],
            reason=f"reassigned by supervisor: {reason}",
            code="reassigned",
            now=now,
        )
    await reoffer(
        session,
        alert=alert,
        unit_code=unit_code,
        leg_kind=kind,
        trigger="reassigned",
        dispatch=dispatch,
        now=now,
        note=reason,
    )

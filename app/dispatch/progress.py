"""Responder progress on a claimed alert: contacted, on scene, handed over, resolved; a transit
guard's hand-over to the counselor; notes; a supervisor's reopen.

Who may do what is ``app.dispatch.permissions``' judgement, the same the alert's read shows: only
someone holding a leg (or a supervisor) works on the alert, and each action renews the holder's
lease. Transit staff record what they see on the spot and hand the victim to the counselor; first
contact, the case's hand-over and closing with a disposition are for whoever holds the UPTD PPA leg
(a post, or the central desk), or a supervisor.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import StaffPrincipal
from app.audit import record
from app.dispatch.claims import renew, take_up
from app.dispatch.ladder import LADDER_KINDS, legs_of
from app.dispatch.permissions import (
    DONE_ALREADY,
    HANDED_TO_COUNSELOR,
    Actor,
    AlertFacts,
    Verdict,
    actor_of,
    facts_of,
    may_hand_to_counselor,
    may_note,
    may_record,
    may_reopen,
    may_resolve,
)
from app.dispatch.runtime import Dispatch, snapshot_for
from app.dispatch.service import lock_alert, reoffer
from app.dispatch.views import note_aad
from app.errors import NotFound
from app.events import emit
from app.models import Alert, AlertNote, Assignment
from app.policy.alerts import Denied, access_to, refuse
from app.policy.roles import PSEUDONYMOUS_ROLES
from app.schemas.dispatch import Disposition, HandOver, Milestone
from app.security.fields import KeyRing
from app.states import AlertState, record_milestone, transition
from app.states import reopen as reopen_alert


async def _locked_for(
    session: AsyncSession,
    alert_id: uuid.UUID,
    staff: StaffPrincipal,
    now: datetime,
    judge: Callable[[AlertFacts, Actor], Verdict],
) -> tuple[Alert, list[Assignment], Verdict]:
    """The alert (locked) and its legs, if the caller may see it and ``judge`` allows the action
    (the same judgement the read model shows); its refusal names the same reason."""
    alert = await lock_alert(session, alert_id)
    if alert is None:
        raise NotFound()
    answer = await access_to(session, staff, alert, now=now)
    if isinstance(answer, Denied):
        raise await refuse(session, staff, alert, answer, now=now)  # others' stay invisible
    legs = await legs_of(session, alert.id)
    verdict = judge(facts_of(alert, legs), actor_of(staff))
    if not verdict.allowed and verdict.reason not in DONE_ALREADY:
        raise verdict.refuse(_DETAILS.get(verdict.reason or "", "Not allowed now."))
    return alert, legs, verdict


_DETAILS = {
    "closed": "The alert is already resolved or cancelled.",
    "not_holding": "Accept the alert before working on it.",
    "ppa_leg_only": "Only the complaint post or central desk holding the alert does this.",
    "transit_leg_only": "Only transit staff holding the alert hand it to the counselor.",
    "not_acknowledged": "Nobody has accepted the alert yet.",
    "do_not_call_back": "The victim must not be called back.",
    "role": "Not allowed for your role.",
}


async def record_progress(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    staff: StaffPrincipal,
    milestone: Milestone,
    handed_over_to: HandOver | None,
    dispatch: Dispatch,
    now: datetime,
) -> Alert:
    if (
        milestone == "handed_over"
        and handed_over_to == "counselor"
        and staff.role in PSEUDONYMOUS_ROLES
    ):
        # Transit staff hand the victim to the counselor: their leg's hand-over, not the case's.
        return await hand_to_counselor(session, alert_id=alert_id, staff=staff, now=now)
    alert, _, verdict = await _locked_for(
        session, alert_id, staff, now, lambda f, a: may_record(f, a, milestone)
    )
    if verdict.allowed:
        _record(session, alert, staff, AlertState(milestone), handed_over_to, now)
    await renew(
        session,
        alert_id=alert.id,
        staff_id=staff.user_id,
        lease_s=dispatch.settings.lease_s,
        now=now,
    )
    return alert


def _record(
    session: AsyncSession,
    alert: Alert,
    staff: StaffPrincipal,
    milestone: AlertState,
    handed_over_to: HandOver | None,
    now: datetime,
) -> None:
    if not record_milestone(alert, milestone, at=now):
        return
    data: dict[str, str | None] = {"staff_id": str(staff.user_id), "unit_code": staff.unit_code}
    if milestone is AlertState.HANDED_OVER:
        alert.handed_over_to = handed_over_to or "other"
        data["to"] = alert.handed_over_to
    emit(session, f"alert.{milestone}", at=now, alert_id=alert.id, data=data)
    # The outbox is purged after 30 days; the audit trail keeps who changed the record.
    record(
        session,
        principal=staff,
        action=f"alert.{milestone}",
        object_type="alert",
        object_id=alert.id,
        at=now,
        detail={"to": alert.handed_over_to} if milestone is AlertState.HANDED_OVER else None,
    )


async def hand_to_counselor(
    session: AsyncSession, *, alert_id: uuid.UUID, staff: StaffPrincipal, now: datetime
) -> Alert:
    """A transit guard hands the victim to the counselor: her leg ends (it leaves her active
    queue), she was on scene (stamped if she had not said so), and whoever holds the UPTD PPA leg
    takes it up — now, or when someone accepts it (``claims.take_up``)."""
    alert, legs, verdict = await _locked_for(session, alert_id, staff, now, may_hand_to_counselor)
    if not verdict.allowed:
        return alert  # handed over already: a retry
    leg = next(g for g in legs if g.id == verdict.assignment_id)
    _record(session, alert, staff, AlertState.ON_SCENE, None, now)
    leg.status, leg.closed_at, leg.close_reason = "completed", now, HANDED_TO_COUNSELOR
    emit(
        session,
        "assignment.handed_over",
        at=now,
        alert_id=alert.id,
        data={
            "assignment_id": str(leg.id),
            "unit_code": leg.unit_code,
            "leg_kind": leg.leg_kind,
            "to": "counselor",
            "staff_id": str(staff.user_id),
        },
    )
    record(
        session,
        principal=staff,
        action="assignment.handed_over",
        object_type="alert",
        object_id=alert.id,
        at=now,
        detail={"assignment_id": str(leg.id), "to": "counselor"},
    )
    holder = next((g for g in legs if g.leg_kind in LADDER_KINDS and g.status == "accepted"), None)
    if holder is not None:
        take_up(session, legs=legs, by=holder, now=now)
    return alert


async def resolve(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    staff: StaffPrincipal,
    disposition: Disposition,
    now: datetime,
) -> Alert:
    alert, legs, _ = await _locked_for(session, alert_id, staff, now, may_resolve)
    transition(alert, AlertState.RESOLVED, at=now)
    alert.disposition = disposition
    if alert.device_status == "active":
        # The phone sees the end; a duress-cancelled alert already shows "cancelled" and keeps it.
        alert.device_status, alert.device_closed_at, alert.joinable = "resolved", now, False
    for leg in legs:
        if leg.status == "accepted":
            leg.status, leg.closed_at, leg.close_reason = "completed", now, "resolved"
        elif leg.status == "offered":
            leg.status, leg.closed_at, leg.close_reason = "withdrawn", now, "resolved"
    emit(
        session,
        "alert.resolved",
        at=now,
        alert_id=alert.id,
        data={"disposition": disposition, "staff_id": str(staff.user_id)},
    )
    record(
        session,
        principal=staff,
        action="alert.resolved",
        object_type="alert",
        object_id=alert.id,
        at=now,
        detail={"disposition": disposition},
    )
    return alert


async def add_note(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    staff: StaffPrincipal,
    text: str,
    keyring: KeyRing,
    dispatch: Dispatch,
    now: datetime,
) -> AlertNote:
    alert, _, _ = await _locked_for(session, alert_id, staff, now, may_note)
    note = AlertNote(
        id=uuid.uuid4(),
        alert_id=alert.id,
        author_id=staff.user_id,
        body_enc=keyring.encrypt_json({"text": text}, aad=note_aad(alert.id)),
        created_at=now,
    )
    session.add(note)
    emit(
        session,
        "alert.note_added",
        at=now,
        alert_id=alert.id,
        data={"note_id": str(note.id), "staff_id": str(staff.user_id)},
    )
    # The note's id only: its text is personal data and stays encrypted in the note.
    record(
        session,
        principal=staff,
        action="alert.note_added",
        object_type="alert",
        object_id=alert.id,
        at=now,
        detail={"note_id": str(note.id)},
    )
    await renew(
        session,
        alert_id=alert.id,
        staff_id=staff.user_id,
        lease_s=dispatch.settings.lease_s,
        now=now,
    )
    return note


async def reopen(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    staff: StaffPrincipal,
    reason: str,
    dispatch: Dispatch,
    now: datetime,
) -> Alert:
    """A supervisor reopens a resolved alert within the configured window, with a reason
    (audited): the alert goes back to where its work stood and is offered again to the unit that
    held the case (else the central desk). Nothing the victim's phone sees changes
    (``states.reopen`` for staff), and a later press never joins it."""
    window = timedelta(seconds=dispatch.settings.reopen_window_s)
    alert, legs, _ = await _locked_for(
        session, alert_id, staff, now, lambda f, a: may_reopen(f, a, now, window)
    )
    reopen_alert(alert, at=now, by="supervisor")
    # Not alert.reopened: that one is a press reopening the alert, which the phone sees.
    emit(
        session,
        "alert.resumed",
        at=now,
        alert_id=alert.id,
        data={"staff_id": str(staff.user_id), "state": alert.state},
    )
    record(
        session,
        principal=staff,
        action="alert.resumed",
        object_type="alert",
        object_id=alert.id,
        at=now,
        detail={"reason": reason},
    )
    held = [g for g in legs if g.leg_kind in LADDER_KINDS and g.accepted_at is not None]
    snapshot = await snapshot_for(session, alert, dispatch, now)
    last = max(held, key=lambda g: g.accepted_at or now) if held else None
    await reoffer(
        session,
        alert=alert,
        unit_code=last.unit_code if last else snapshot.central_code,
        leg_kind=last.leg_kind if last else "central",
        trigger="reopened",
        dispatch=dispatch,
        now=now,
        note=reason,
    )
    return alert

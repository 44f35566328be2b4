"""Responder progress on a claimed alert: contacted, on scene, handed over, resolved; and notes.

Only someone holding a claim on the alert (or a supervisor) may record progress; each action
renews the holder's lease. Transit staff record what they see on the spot; closing the case with
a disposition is for the complaint post or central desk that holds it, or a supervisor.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import StaffPrincipal
from app.audit import record
from app.dispatch.claims import renew
from app.dispatch.ladder import LADDER_KINDS, legs_of
from app.dispatch.runtime import Dispatch
from app.dispatch.service import lock_alert
from app.dispatch.views import note_aad
from app.errors import AlertClosed, Forbidden, NotFound
from app.events import emit
from app.models import Alert, AlertNote, Assignment
from app.policy.alerts import Denied, access_to, refuse
from app.policy.roles import PROVINCE_WIDE_ROLES
from app.schemas.dispatch import Disposition, HandOver, Milestone
from app.security.fields import KeyRing
from app.states import TERMINAL, AlertState, record_milestone, transition


async def _held(session: AsyncSession, alert: Alert, staff: StaffPrincipal) -> list[Assignment]:
    return [
        leg
        for leg in await legs_of(session, alert.id)
        if leg.status == "accepted" and leg.accepted_by == staff.user_id
    ]


async def _locked_for_work(
    session: AsyncSession, alert_id: uuid.UUID, staff: StaffPrincipal, now: datetime
) -> tuple[Alert, list[Assignment]]:
    alert = await lock_alert(session, alert_id)
    if alert is None:
        raise NotFound()
    answer = await access_to(session, staff, alert, now=now)
    if isinstance(answer, Denied):
        raise await refuse(session, staff, alert, answer, now=now)  # others' stay invisible
    held = await _held(session, alert, staff)
    province_wide = staff.role in PROVINCE_WIDE_ROLES
    if AlertState(alert.state) in TERMINAL:
        raise AlertClosed()
    if not held and not province_wide:
        raise Forbidden("Accept the alert before working on it.")
    return alert, held


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
    alert, _ = await _locked_for_work(session, alert_id, staff, now)
    if record_milestone(alert, AlertState(milestone), at=now):
        data: dict[str, str | None] = {"staff_id": str(staff.user_id), "unit_code": staff.unit_code}
        if milestone == "handed_over":
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
            detail={"to": alert.handed_over_to} if milestone == "handed_over" else None,
        )
    await renew(
        session,
        alert_id=alert.id,
        staff_id=staff.user_id,
        lease_s=dispatch.settings.lease_s,
        now=now,
    )
    return alert


async def resolve(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    staff: StaffPrincipal,
    disposition: Disposition,
    now: datetime,
) -> Alert:
    alert, held = await _locked_for_work(session, alert_id, staff, now)
    if staff.role not in PROVINCE_WIDE_ROLES and not any(
        leg.leg_kind in LADDER_KINDS for leg in held
    ):
        raise Forbidden("Only the complaint post or central desk holding the alert resolves it.")
    transition(alert, AlertState.RESOLVED, at=now)
    alert.disposition = disposition
    if alert.device_status == "active":
        # The phone sees the end; a duress-cancelled alert already shows "cancelled" and keeps it.
        alert.device_status, alert.device_closed_at, alert.joinable = "resolved", now, False
    for leg in await legs_of(session, alert.id):
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
    alert, _ = await _locked_for_work(session, alert_id, staff, now)
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

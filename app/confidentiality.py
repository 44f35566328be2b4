"""Restricted records and break-glass: marking a record restricted, lifting it, and a supervisor's
written reason to open one whole for a while (``app.policy.restriction`` decides; this writes).

In: a staff member, an alert id, a reason. Out: the changed alert or a ``BreakGlassGrant`` (its
written reason encrypted like the victim's data: free text may name people), an audit row, and
an outbox event for the stream (ids and categories, never the reason's text). Every function only
flushes; the route commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import StaffPrincipal
from app.audit import record
from app.errors import Conflict, Forbidden
from app.events import emit
from app.models import Alert, BreakGlassGrant, StaffUser
from app.models.confidentiality import reason_aad
from app.pagination import Cursor
from app.policy.alerts import open_alert
from app.policy.restriction import RestrictionReason, may_break_glass, may_lift, may_restrict
from app.schemas.confidentiality import BreakGlassRead
from app.security.fields import KeyRing


async def set_restriction(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    staff: StaffPrincipal,
    restricted: bool,
    reason: RestrictionReason | None,
    now: datetime,
) -> Alert:
    """Restrict (a supervisor, or the unit holding the claim) or lift (a supervisor who sees the
    record whole: through the glass, or holding its claim). Asking for the state the record is
    already in changes nothing and records nothing."""
    alert, access = await open_alert(session, staff, alert_id, now=now, lock=True)
    # No ``unit_code`` in the events: the stream sends an event naming a unit to that unit's
    # staff, and a supervisor's unit (central) may never have been offered the alert.
    who = {"staff_id": str(staff.user_id)}
    if restricted:
        if not may_restrict(staff.role, holder=access.holds_claim):
            raise Forbidden("Only a supervisor or the unit holding the claim restricts a record.")
        if alert.restricted_at is not None and alert.restriction_reason == reason:
            return alert
        alert.restricted_at = alert.restricted_at or now
        alert.restriction_reason = reason
        _audit(session, staff, alert, "alert.restricted", {"reason": reason}, now)
        emit(session, "alert.restricted", at=now, alert_id=alert.id, data={"reason": reason, **who})
        return alert
    if not may_lift(staff.role):
        raise Forbidden("Only a supervisor lifts a restriction.")
    if alert.restricted_at is None:
        return alert
    if access.fields.restricted:
        # A lift opens the record to everyone entitled to it: it must not be a way round the
        # written, reported reason that seeing it whole takes.
        raise Forbidden(
            "Break the glass first (POST /v1/alerts/{id}/break-glass, with a written reason): "
            "only a supervisor who sees the record whole may lift its restriction."
        )
    alert.restricted_at, alert.restriction_reason = None, None
    _audit(session, staff, alert, "alert.unrestricted", {}, now)
    emit(session, "alert.unrestricted", at=now, alert_id=alert.id, data=who)
    return alert


def _audit(
    session: AsyncSession,
    staff: StaffPrincipal,
    alert: Alert,
    action: str,
    detail: dict[str, str | None],
    now: datetime,
) -> None:
    record(
        session,
        principal=staff,
        action=action,
        object_type="alert",
        object_id=alert.id,
        at=now,
        detail=dict(detail),
    )


async def break_glass(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    staff: StaffPrincipal,
    reason: str,
    ttl: timedelta,
    now: datetime,
    keyring: KeyRing,
) -> BreakGlassRead:
    """A supervisor opens a restricted record whole until ``now + ttl``: the grant with its
    reason, an audit row naming the grant, and an event that every supervisor's board sees at
    once."""
    alert, access = await open_alert(session, staff, alert_id, now=now, lock=True)
    if not may_break_glass(staff.role):
        raise Forbidden("Only a supervisor may break the glass.")
    if not access.restricted:
        raise Conflict("This record is not restricted: you already see it whole.")
    grant_id = uuid.uuid4()
    grant = BreakGlassGrant(
        id=grant_id,
        alert_id=alert.id,
        staff_id=staff.user_id,
        reason_enc=keyring.encrypt(reason.encode(), aad=reason_aad(grant_id)),
        granted_at=now,
        expires_at=now + ttl,
    )
    session.add(grant)
    record(
        session,
        principal=staff,
        action="alert.glass_broken",
        object_type="alert",
        object_id=alert.id,
        at=now,
        # The reason is the grant's (encrypted there): the audit trail is read by operators.
        detail={"grant_id": str(grant.id), "until": grant.expires_at.isoformat()},
    )
    # The reason stays out of the event: it is free text, and events reach sockets and logs.
    emit(
        session,
        "alert.glass_broken",
        at=now,
        alert_id=alert.id,
        data={
            "grant_id": str(grant.id),
            "staff_id": str(staff.user_id),
            "until": grant.expires_at.isoformat(),
        },
    )
    await session.flush()
    return _read(grant, alert.case_code, staff.username, keyring)


def _read(
    grant: BreakGlassGrant, case_code: str, username: str, keyring: KeyRing
) -> BreakGlassRead:
    return BreakGlassRead(
        id=grant.id,
        alert_id=grant.alert_id,
        case_code=case_code,
        staff_id=grant.staff_id,
        username=username,
        reason=keyring.decrypt(grant.reason_enc, aad=reason_aad(grant.id)).decode(),
        granted_at=grant.granted_at,
        expires_at=grant.expires_at,
    )


async def list_grants(
    session: AsyncSession,
    *,
    limit: int,
    cursor: Cursor | None,
    keyring: KeyRing,
    alert_id: uuid.UUID | None = None,
) -> tuple[list[BreakGlassRead], Cursor | None]:
    """Every break of the glass, newest first (the report supervisors and admins review)."""
    query = (
        select(BreakGlassGrant, Alert.case_code, StaffUser.username)
        .join(Alert, Alert.id == BreakGlassGrant.alert_id)
        .join(StaffUser, StaffUser.id == BreakGlassGrant.staff_id)
        .order_by(BreakGlassGrant.granted_at.desc(), BreakGlassGrant.id.desc())
    )
    if alert_id is not None:
        query = query.where(BreakGlassGrant.alert_id == alert_id)
    if cursor is not None:
        stamp, last_id = cursor.time_and_id()
        query = query.where(
            (BreakGlassGrant.granted_at < stamp)
            | ((BreakGlassGrant.granted_at == stamp) & (BreakGlassGrant.id < last_id))
        )
    rows = (await session.execute(query.limit(limit + 1))).all()
    page = rows[:limit]
    items = [_read(grant, code, username, keyring) for grant, code, username in page]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1][0]
        next_cursor = Cursor.of(last.granted_at, last.id)
    return items, next_cursor

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
from sqlalchemy.orm import aliased

from app.access import StaffPrincipal
from app.audit import record
from app.errors import Conflict, Forbidden
from app.events import emit
from app.models import Alert, AuditEntry, BreakGlassGrant, StaffUser
from app.models.confidentiality import reason_aad
from app.pagination import Cursor
from app.policy.alerts import open_alert
from app.policy.restriction import (
    GLASS_ROLES,
    RestrictionReason,
    may_break_glass,
    may_lift,
    may_restrict,
)
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
    """A supervisor (or a counselor or paralegal whose unit claimed the record after it was
    restricted) opens a restricted record whole until ``now + ttl``: the grant with its reason,
    an audit row naming the grant, and an event that every supervisor's board sees at once."""
    alert, access = await open_alert(session, staff, alert_id, now=now, lock=True)
    holder = access.holds_claim and not access.fields.pseudonymous
    if not may_break_glass(staff.role, holder=holder):
        raise Forbidden(
            "Only a supervisor, or a counselor or paralegal of the unit holding the claim, may "
            "break the glass."
        )
    if not access.restricted:
        raise Conflict("This record is not restricted: you already see it whole.")
    if staff.role not in GLASS_ROLES and not access.fields.restricted:
        raise Conflict(
            "Your unit took this claim before the record was restricted: you see it whole."
        )
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


REROUTES = ("alert.reassigned", "assignment.claim_broken")
"""What sends a claimed alert to another desk: done by the one who then accepts it, a way round
the glass worth reporting even though the claim alone no longer opens the record."""


async def list_grants(
    session: AsyncSession,
    *,
    limit: int,
    cursor: Cursor | None,
    keyring: KeyRing,
    alert_id: uuid.UUID | None = None,
) -> tuple[list[BreakGlassRead], Cursor | None]:
    """The report supervisors and admins review, newest first: every break of the glass, and
    every claim someone took on a restricted alert after reassigning it (or breaking its claim)
    themselves (``kind: claim_after_reassign``)."""
    grants = await _grants(session, limit=limit, cursor=cursor, alert_id=alert_id)
    claims = await _claims_after_reroute(session, limit=limit, cursor=cursor, alert_id=alert_id)
    # Each source gave up to ``limit + 1`` rows after the cursor: merged, the first ``limit``
    # are the page, and one more anywhere means another page.
    rows = [
        (grant.granted_at, grant.id, _read(grant, code, username, keyring))
        for grant, code, username in grants
    ]
    rows += claims
    rows.sort(key=lambda row: (row[0], row[1]), reverse=True)
    page = rows[:limit]
    next_cursor = Cursor.of(page[-1][0], page[-1][1]) if len(rows) > limit else None
    return [item for _, _, item in page], next_cursor


async def _grants(
    session: AsyncSession, *, limit: int, cursor: Cursor | None, alert_id: uuid.UUID | None
) -> list[tuple[BreakGlassGrant, str, str]]:
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
    return [
        (grant, code, username)
        for grant, code, username in (await session.execute(query.limit(limit + 1))).all()
    ]


async def _claims_after_reroute(
    session: AsyncSession, *, limit: int, cursor: Cursor | None, alert_id: uuid.UUID | None
) -> list[tuple[datetime, uuid.UUID, BreakGlassRead]]:
    """Claims taken on a restricted alert by someone who had reassigned it (or broken its claim)
    before, read from the audit trail, which is written once and chained: the rows of one alert
    are numbered in the order they happened (every one of these writes locks the alert first),
    so "restricted at the accept" is the last restriction change before it being a restriction.
    Positions in the listing are the accept rows' numbers as UUIDs (a cursor names a UUID)."""
    accepted, earlier = aliased(AuditEntry), aliased(AuditEntry)
    restricted, lifted = aliased(AuditEntry), aliased(AuditEntry)
    rerouted_before = (
        select(earlier.id)
        .where(
            earlier.object_id == accepted.object_id,
            earlier.actor_id == accepted.actor_id,
            earlier.action.in_(REROUTES),
            earlier.id < accepted.id,
        )
        .exists()
    )
    lifted_since = (
        select(lifted.id)
        .where(
            lifted.object_id == accepted.object_id,
            lifted.action == "alert.unrestricted",
            lifted.id > restricted.id,
            lifted.id < accepted.id,
        )
        .exists()
    )
    restricted_then = (
        select(restricted.id)
        .where(
            restricted.object_id == accepted.object_id,
            restricted.action == "alert.restricted",
            restricted.id < accepted.id,
            ~lifted_since,
        )
        .exists()
    )
    query = (
        select(accepted, Alert.case_code)
        .join(Alert, Alert.id == accepted.object_id)
        .where(
            accepted.action == "assignment.accepted",
            accepted.actor_type == "staff",
            rerouted_before,
            restricted_then,
        )
        .order_by(accepted.at.desc(), accepted.id.desc())
    )
    if alert_id is not None:
        query = query.where(accepted.object_id == alert_id)
    if cursor is not None:
        stamp, last = cursor.time_and_id()
        if last.int < 2**63:  # after a line of this kind
            query = query.where(
                (accepted.at < stamp) | ((accepted.at == stamp) & (accepted.id < last.int))
            )
        else:  # after a grant, whose random UUID sorts above every audit row's number
            query = query.where(accepted.at <= stamp)
    rows = (await session.execute(query.limit(limit + 1))).all()
    if not rows:
        return []
    actors = {uuid.UUID(row.actor_id) for row, _ in rows}
    alerts = {row.object_id for row, _ in rows}
    found = await session.execute(
        select(StaffUser.id, StaffUser.username).where(StaffUser.id.in_(actors))
    )
    names: dict[uuid.UUID, str] = {user_id: name for user_id, name in found.all()}
    reroutes = (
        await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_id.in_(alerts), AuditEntry.action.in_(REROUTES))
            .order_by(AuditEntry.id)
        )
    ).all()
    items = []
    for row, code in rows:
        why = [
            r
            for r in reroutes
            if r.object_id == row.object_id and r.actor_id == row.actor_id and r.id < row.id
        ][-1]
        staff_id = uuid.UUID(row.actor_id)
        assert row.object_id is not None
        items.append(
            (
                row.at,
                uuid.UUID(int=row.id),
                BreakGlassRead(
                    kind="claim_after_reassign",
                    id=uuid.UUID(str(row.detail.get("assignment_id"))),
                    alert_id=row.object_id,
                    case_code=code,
                    staff_id=staff_id,
                    username=names.get(staff_id, row.actor_id),
                    reason=str(why.detail.get("reason") or ""),
                    granted_at=row.at,
                    expires_at=None,
                ),
            )
        )
    return items

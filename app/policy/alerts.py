"""Need-to-know against the database: load an alert's legs, decide, and answer a route.

``open_alert`` is what every alert route calls: it returns the alert with what the caller may see
of it (``AlertAccess``), or raises ``NotFound`` (never existed, or never offered to the caller) or
``PassedOn`` (the caller's unit had it, its sight ended, here is who has it now). On a
restricted alert (``app.policy.restriction``) it also loads the caller's break-glass grant.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import DevicePrincipal, IntegratorPrincipal, Principal, StaffPrincipal
from app.audit import record
from app.errors import NotFound, PassedOn
from app.models import Alert, AlertLocation, Assignment, BreakGlassGrant
from app.policy.fields import FULL, OFFERED, TRANSIT, FieldAccess
from app.policy.integrators import integrator_sees_alert
from app.policy.restriction import (
    CLAIM_ROLES,
    claim_entitles,
    may_break_glass,
    may_ever_break_glass,
    narrow,
    through_glass,
)
from app.policy.roles import PROVINCE_WIDE_ROLES
from app.policy.sight import (
    LegSight,
    claimed_at,
    holds_claim,
    passed_to,
    took_claim,
    took_claim_at,
    unit_sight,
)


@dataclass(frozen=True)
class AlertAccess:
    """What one principal may see of one alert, now."""

    fields: FieldAccess
    until: datetime | None = None
    """What happened after this (the close of the unit's leg) is not shown; None: no end."""
    holds_claim: bool = False
    restricted: bool = False
    """The record is restricted (whether or not this caller sees its identity)."""
    glass_until: datetime | None = None
    """The caller sees the restricted record whole through the glass until then."""
    may_break_glass: bool = False
    """Restricted, not seen whole, and the caller may break the glass to see it."""
    last_fix: AlertLocation | None = None
    """With ``until``: the newest usable fix received by then (``access_to`` loads it), shown in
    place of the alert's newest location, by the same rule as the trail (``covers``)."""

    def covers(self, at: datetime) -> bool:
        """Whether something that happened at ``at`` (an event, a note) is shown."""
        return self.until is None or at <= self.until


def read_detail(access: AlertAccess, **detail: str) -> dict[str, str | bool] | None:
    """The audit detail of a read: a restricted record seen whole through the glass says so,
    whatever the route (the board, the alert, its notes, an answer to a write, an export)."""
    marked: dict[str, str | bool] = dict(detail)
    if access.glass_until is not None:
        marked["through_glass"] = True
    return marked or None


def audit_read(
    session: AsyncSession,
    principal: Principal,
    alert_id: uuid.UUID,
    access: AlertAccess,
    *,
    at: datetime,
    **detail: str,
) -> None:
    """Audit one read of an alert's personal data (``alert.read``), marked when through the
    glass; ``via``: the board's list, the answer to a change."""
    record(
        session,
        principal=principal,
        action="alert.read",
        object_type="alert",
        object_id=alert_id,
        at=at,
        detail=read_detail(access, **detail),
    )


@dataclass(frozen=True)
class Denied:
    had_it: bool = False
    """The caller's unit was offered the alert once; its sight has ended."""
    passed_to: tuple[str, ...] = ()
    """Who has the alert now (empty if nobody does, e.g. after a hand-off to 112)."""


def decide(
    principal: Principal,
    alert: Alert,
    legs: tuple[LegSight, ...],
    *,
    now: datetime,
    integrator_sees: bool = False,
    glass_until: datetime | None = None,
) -> AlertAccess | Denied:
    """The one answer to "may this principal see this alert, which fields, until when".

    ``glass_until``: the end of the caller's latest break-glass grant on this alert, if any."""
    restricted = alert.restricted_at is not None
    if isinstance(principal, DevicePrincipal):
        # The device's own alert, through the reassurance view only (no staff fields at all).
        if alert.device_id == principal.device.id:
            return AlertAccess(fields=TRANSIT)
        return Denied()
    if isinstance(principal, IntegratorPrincipal):
        if integrator_sees:  # its data scope (app.integrations.scope), asked by access_to
            fields = narrow(TRANSIT, restricted=restricted, entitled=False)
            return AlertAccess(fields=fields, restricted=restricted)
        return Denied()
    if principal.role in PROVINCE_WIDE_ROLES:
        # Their own claim, not their unit's: every supervisor belongs to the central desk, and
        # the desk taking a restricted alert must not open it to all of them.
        return province_access(
            principal,
            alert,
            glass_until=glass_until,
            now=now,
            holder=took_claim(legs, principal.user_id),
            claimed_at=took_claim_at(legs, principal.user_id),
        )
    sight = unit_sight(legs, principal.unit_id)
    if not sight.ever_offered:
        return Denied()
    if not sight.sees_at(now):
        return Denied(had_it=True, passed_to=tuple(passed_to(legs)))
    holder = holds_claim(legs, principal.unit_id)
    fields = staff_fields(principal, holder=holder)
    if not restricted or fields.pseudonymous:  # transit staff see no identity at all anyway
        return AlertAccess(
            fields=narrow(fields, restricted=restricted, entitled=holder),
            until=sight.until,
            holds_claim=holder,
            restricted=restricted,
        )
    # Taking the claim and seeing who is in it are separate: a claim taken on a record already
    # restricted works pseudonymously, and its holder sees the identity through the glass.
    entitled = holder and claim_entitles(
        principal.role,
        claimed_at=claimed_at(legs, principal.unit_id),
        restricted_at=alert.restricted_at,
    )
    glass = holder and not entitled and through_glass(principal.role, glass_until, now, holder=True)
    return AlertAccess(
        fields=narrow(fields, restricted=True, entitled=entitled or glass),
        until=sight.until,
        holds_claim=holder,
        restricted=True,
        glass_until=glass_until if glass else None,
        may_break_glass=holder and not (entitled or glass) and principal.role in CLAIM_ROLES,
    )


def province_access(
    staff: StaffPrincipal,
    alert: Alert,
    *,
    glass_until: datetime | None,
    now: datetime,
    holder: bool = False,
    claimed_at: datetime | None = None,
) -> AlertAccess:
    """Supervisors and admins see every alert whole, but a restricted one only when their own
    claim on it predates the restriction (``restriction.claim_entitles``), or through the glass
    (supervisors; admins never). A claim taken on a record already restricted (a reassignment
    to the central desk, then an accept) opens nothing by itself."""
    if alert.restricted_at is None:
        return AlertAccess(fields=FULL, holds_claim=holder)
    entitled = claim_entitles(staff.role, claimed_at=claimed_at, restricted_at=alert.restricted_at)
    glass = not entitled and through_glass(staff.role, glass_until, now)
    return AlertAccess(
        fields=narrow(FULL, restricted=True, entitled=entitled or glass),
        holds_claim=holder,
        restricted=True,
        glass_until=glass_until if glass else None,
        may_break_glass=not (entitled or glass) and may_break_glass(staff.role),
    )


def export_shows_child(principal: Principal, alert: Alert, access: AlertAccess) -> bool:
    """Whether an export (EIDO's ``victimIsChild``, SIMFONI's age group, which says the same)
    may tell that the victim is a child: supervisors and admins, and police after a hand-over
    to police (they take the case on); never on a restricted record not seen whole."""
    if access.fields.restricted:
        return False  # only the claim holder (or a supervisor through the glass)
    if isinstance(principal, StaffPrincipal):
        return principal.role in PROVINCE_WIDE_ROLES
    return isinstance(principal, IntegratorPrincipal) and (
        principal.data_scope == "police" and alert.handed_over_to == "police"
    )


def staff_fields(staff: StaffPrincipal, *, holder: bool) -> FieldAccess:
    """The fields a staff member sees of an alert they may see (no database)."""
    if staff.is_transit:
        return TRANSIT
    if staff.role in PROVINCE_WIDE_ROLES or holder:
        return FULL
    return OFFERED


async def legs_of(session: AsyncSession, alert_id: uuid.UUID) -> tuple[LegSight, ...]:
    rows = (
        await session.execute(
            select(
                Assignment.unit_id,
                Assignment.offered_at,
                Assignment.closed_at,
                Assignment.status,
                Assignment.unit_code,
                Assignment.accepted_by,
                Assignment.accepted_at,
            ).where(Assignment.alert_id == alert_id)
        )
    ).all()
    return tuple(LegSight(*row) for row in rows)


async def access_to(
    session: AsyncSession, principal: Principal, alert: Alert, *, now: datetime
) -> AlertAccess | Denied:
    if isinstance(principal, IntegratorPrincipal):
        sees = await integrator_sees_alert(session, principal, alert, now=now)
        return decide(principal, alert, (), now=now, integrator_sees=sees)
    glass_until = None
    if alert.restricted_at is not None and isinstance(principal, StaffPrincipal):
        glass_until = (await glass_grants(session, principal, (alert.id,), now=now)).get(alert.id)
    legs = await legs_of(session, alert.id)
    answer = decide(principal, alert, legs, now=now, glass_until=glass_until)
    if isinstance(answer, AlertAccess) and answer.until is not None:
        # A unit whose leg closed (in its late-accept grace) sees where the victim was up to
        # the close, like its trail and timeline: never where she went after.
        fix = await session.scalar(
            select(AlertLocation)
            .where(
                AlertLocation.alert_id == alert.id,
                AlertLocation.usable.is_(True),
                AlertLocation.received_at <= answer.until,
            )
            .order_by(AlertLocation.fix_at.desc(), AlertLocation.id.desc())
            .limit(1)
        )
        answer = replace(answer, last_fix=fix)
    return answer


async def glass_grants(
    session: AsyncSession,
    staff: StaffPrincipal,
    alert_ids: tuple[uuid.UUID, ...],
    *,
    now: datetime,
) -> dict[uuid.UUID, datetime]:
    """The end of the caller's running break-glass grant per alert (none for roles that never
    break it; a counselor's counts only while their unit holds the claim, ``decide``). Only a
    grant given under the record's current restriction counts: one from before a lift does not
    open a record restricted again since."""
    if not may_ever_break_glass(staff.role) or not alert_ids:
        return {}
    rows = await session.execute(
        select(BreakGlassGrant.alert_id, func.max(BreakGlassGrant.expires_at))
        .join(Alert, Alert.id == BreakGlassGrant.alert_id)
        .where(
            BreakGlassGrant.alert_id.in_(alert_ids),
            BreakGlassGrant.staff_id == staff.user_id,
            BreakGlassGrant.expires_at > now,
            BreakGlassGrant.granted_at >= Alert.restricted_at,
        )
        .group_by(BreakGlassGrant.alert_id)
    )
    return {alert_id: until for alert_id, until in rows.all()}


async def claims_held(
    session: AsyncSession, staff: StaffPrincipal, alert_ids: tuple[uuid.UUID, ...]
) -> dict[uuid.UUID, datetime]:
    """When the caller took the claim of each of these alerts they hold (``took_claim_at``, in
    one query for a page of the board)."""
    if not alert_ids:
        return {}
    rows = await session.execute(
        select(Assignment.alert_id, func.min(Assignment.accepted_at))
        .where(
            Assignment.alert_id.in_(alert_ids),
            Assignment.accepted_by == staff.user_id,
            Assignment.status.in_(("accepted", "completed")),
            Assignment.accepted_at.is_not(None),
        )
        .group_by(Assignment.alert_id)
    )
    return {alert_id: at for alert_id, at in rows.all()}


async def open_alert(
    session: AsyncSession,
    principal: Principal,
    alert_id: uuid.UUID,
    *,
    now: datetime,
    lock: bool = False,
) -> tuple[Alert, AlertAccess]:
    """The alert and what the caller may see of it, or 404 (``NotFound`` / ``PassedOn``)."""
    alert = await session.get(Alert, alert_id, with_for_update=lock or None)
    if alert is None:
        raise NotFound()
    answer = await access_to(session, principal, alert, now=now)
    if isinstance(answer, Denied):
        raise await refuse(session, principal, alert, answer, now=now)
    return alert, answer


async def refuse(
    session: AsyncSession, principal: Principal, alert: Alert, answer: Denied, *, now: datetime
) -> NotFound:
    """Audit a denied access to an existing alert (committed at once: the request fails), and
    return the error to raise. Called before the route has written anything."""
    record(
        session,
        principal=principal,
        action="alert.access_denied",
        object_type="alert",
        object_id=alert.id,
        at=now,
        detail={"passed_on": answer.had_it},
    )
    await session.commit()
    return denial(answer)


def denial(answer: Denied) -> NotFound:
    if not answer.had_it:
        return NotFound()
    where = (
        f"it is with {', '.join(answer.passed_to)} now"
        if answer.passed_to
        else ("nobody in a unit holds it now")
    )
    return PassedOn(
        f"Your unit's part in this alert ended; {where}.",
        extra={"passed_to": list(answer.passed_to)},
    )

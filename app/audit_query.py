"""Asking the audit trail: who read, changed, exported or was refused which record, and when.

In: the asker (a supervisor or an admin), filters (an alert or its case code, an actor, a time
range, kinds), a page. Out: entries, newest first, with the actor resolved to a person, a role
and a unit. The question "who read this victim's record" starts an investigation of a leak, and
UU PDP (Art. 32) gives the victim a right to an account of who processed her data.

Need-to-know applies to the trail itself, or it would leak what it records:
- **admins** run the system, not cases: they see administrative entries (accounts, units,
  rosters, integrators, restores, audit queries), never an entry about an alert or a case;
- **supervisors** see every entry about alerts, except those about a *restricted* record, which
  appear only while the supervisor holds a break-glass grant on it: an insider must not learn from
  the trail that a restricted case exists or who is investigating it;
- nobody else asks the trail.
Every query is itself an audit entry (the filters it used, never what it found).

A data-subject answer (``subject=True``) names units, roles, times and kinds, never staff
members: Art. 33 refuses access that would reveal another person's data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import StaffPrincipal
from app.errors import Forbidden, NotFound, ValidationFailed
from app.models import (
    Alert,
    AuditEntry,
    BreakGlassGrant,
    Case,
    IntegratorClient,
    StaffUser,
    Unit,
)
from app.pagination import Cursor

Kind = Literal["read", "write", "export", "denied", "break_glass"]
KINDS: tuple[Kind, ...] = ("read", "write", "export", "denied", "break_glass")
ASKERS = ("supervisor", "admin")

_VICTIM_OBJECTS = ("alert", "case", "break_glass")
"""Entries about a victim's record; every other object type is administrative."""
_DENIED = frozenset({"alert.access_denied"})
_GLASS = frozenset({"alert.glass_broken", "break_glass.report_read"})


def kind_of(action: str) -> Kind:
    if action in _DENIED:
        return "denied"
    if action in _GLASS:
        return "break_glass"
    if action.startswith("export."):
        return "export"
    if action.endswith((".read", "_read")) or action == "audit.query":
        return "read"
    return "write"


def _actions_of(kinds: frozenset[Kind]) -> ColumnElement[bool]:
    """The SQL form of ``kind_of(action) in kinds``."""
    action = AuditEntry.action
    special = [*_DENIED, *_GLASS]
    clauses: dict[Kind, ColumnElement[bool]] = {
        "denied": action.in_(_DENIED),
        "break_glass": action.in_(_GLASS),
        "export": action.startswith("export."),
        "read": and_(
            or_(action.endswith(".read"), action.endswith("_read"), action == "audit.query"),
            action.not_in(special),
        ),
        "write": and_(
            action.not_in(special),
            not_(action.startswith("export.")),
            not_(action.endswith(".read")),
            not_(action.endswith("_read")),
            action != "audit.query",
        ),
    }
    return or_(*(clauses[k] for k in kinds))


@dataclass(frozen=True)
class AuditFilter:
    alert: str | None = None
    """An alert's id or its case code."""
    actor: str | None = None
    """A staff member's username, or an integrator client's id."""
    since: datetime | None = None
    until: datetime | None = None
    kinds: frozenset[Kind] = field(default_factory=lambda: frozenset(KINDS))

    def described(self) -> dict[str, Any]:
        """What the query asked, for its own audit entry (ids and names of filters only)."""
        return {
            "alert": self.alert is not None,
            "actor": self.actor is not None,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "kinds": sorted(self.kinds),
        }


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    kind: Kind
    action: str
    actor_type: str
    actor: str | None
    """A person's username or an integrator's name; None in a data-subject answer."""
    actor_role: str | None
    actor_unit: str | None
    object_type: str
    object_id: uuid.UUID | None
    case_code: str | None


async def query_audit(
    session: AsyncSession,
    *,
    asker: StaffPrincipal,
    filters: AuditFilter,
    limit: int,
    cursor: Cursor | None,
    now: datetime,
    subject: bool = False,
) -> tuple[list[AuditRow], Cursor | None]:
    if asker.role not in ASKERS:
        raise Forbidden("The audit trail is asked by supervisors and admins.")
    query = select(AuditEntry)
    if asker.role == "admin":
        if filters.alert is not None or subject:
            raise Forbidden("Admins see administrative entries, not a victim's record.")
        query = query.where(AuditEntry.object_type.not_in(_VICTIM_OBJECTS))
    else:
        query = query.where(not_(_about(_hidden_alerts(asker, now))))
    if filters.alert is not None:
        alert_id = await _alert_id(session, filters.alert)
        query = query.where(_about(select(Alert.id).where(Alert.id == alert_id)))
    if filters.actor is not None:
        query = query.where(*await _actor(session, filters.actor))
    if filters.since is not None:
        query = query.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEntry.at < filters.until)
    if filters.kinds != frozenset(KINDS):
        query = query.where(_actions_of(filters.kinds))
    if cursor is not None:
        try:
            query = query.where(AuditEntry.id < int(cursor.value))
        except ValueError as exc:
            raise ValidationFailed(
                "The cursor is not one this API issued.",
                extra={"errors": [{"loc": ["query", "cursor"], "msg": "invalid cursor"}]},
            ) from exc
    entries = list(
        (await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1))).all()
    )
    rows = await _resolve(session, entries[:limit], subject=subject)
    next_cursor = Cursor(str(entries[limit - 1].id)) if len(entries) > limit else None
    return rows, next_cursor


def _hidden_alerts(asker: StaffPrincipal, now: datetime) -> Any:
    """Restricted alerts this supervisor holds no running break-glass grant on."""
    granted = exists().where(
        BreakGlassGrant.alert_id == Alert.id,
        BreakGlassGrant.staff_id == asker.user_id,
        BreakGlassGrant.expires_at > now,
    )
    return select(Alert.id).where(Alert.restricted_at.is_not(None), not_(granted))


def _about(alert_ids: Any) -> ColumnElement[bool]:
    """Entries about these alerts: the alert itself, its case, and its break-glass grants."""
    return or_(
        and_(AuditEntry.object_type == "alert", AuditEntry.object_id.in_(alert_ids)),
        and_(
            AuditEntry.object_type == "case",
            AuditEntry.object_id.in_(select(Case.id).where(Case.alert_id.in_(alert_ids))),
        ),
        and_(
            AuditEntry.object_type == "break_glass",
            AuditEntry.object_id.in_(
                select(BreakGlassGrant.id).where(BreakGlassGrant.alert_id.in_(alert_ids))
            ),
        ),
    )


async def _alert_id(session: AsyncSession, ref: str) -> uuid.UUID:
    try:
        return uuid.UUID(ref)
    except ValueError:
        pass
    alert_id = await session.scalar(select(Alert.id).where(Alert.case_code == ref.upper()))
    if alert_id is None:
        raise NotFound(f"No alert with the case code {ref!r}.")
    return alert_id


async def _actor(session: AsyncSession, ref: str) -> list[ColumnElement[bool]]:
    user_id = await session.scalar(select(StaffUser.id).where(StaffUser.username == ref))
    if user_id is not None:
        return [AuditEntry.actor_type == "staff", AuditEntry.actor_id == str(user_id)]
    client_id = await session.scalar(
        select(IntegratorClient.id).where(IntegratorClient.client_id == ref)
    )
    if client_id is not None:
        return [AuditEntry.actor_type == "integrator", AuditEntry.actor_id == str(client_id)]
    raise NotFound(f"No staff member or integrator {ref!r}.")


async def _resolve(
    session: AsyncSession, entries: list[AuditEntry], *, subject: bool
) -> list[AuditRow]:
    staff_ids = {
        uuid.UUID(e.actor_id) for e in entries if e.actor_type == "staff" and _is_uuid(e.actor_id)
    }
    people: dict[str, tuple[str, str, str | None]] = {}
    if staff_ids:
        found = await session.execute(
            select(StaffUser.id, StaffUser.username, StaffUser.role, Unit.code)
            .outerjoin(Unit, Unit.id == StaffUser.unit_id)
            .where(StaffUser.id.in_(staff_ids))
        )
        people = {str(i): (name, role, unit) for i, name, role, unit in found.all()}
    alert_ids = {e.object_id for e in entries if e.object_type == "alert" and e.object_id}
    codes: dict[uuid.UUID, str] = {}
    if alert_ids:
        found_codes = await session.execute(
            select(Alert.id, Alert.case_code).where(Alert.id.in_(alert_ids))
        )
        codes = {i: c for i, c in found_codes.all()}
    rows = []
    for entry in entries:
        name, role, unit = people.get(entry.actor_id, (None, None, None))
        if entry.actor_type != "staff":
            name = entry.actor_id
        rows.append(
            AuditRow(
                id=entry.id,
                at=entry.at,
                kind=kind_of(entry.action),
                action=entry.action,
                actor_type=entry.actor_type,
                actor=None if subject else name,
                actor_role=role,
                actor_unit=unit,
                object_type=entry.object_type,
                object_id=entry.object_id,
                case_code=codes.get(entry.object_id) if entry.object_id else None,
            )
        )
    return rows


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True

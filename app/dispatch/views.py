"""Read models of dispatch for staff: offers and claims, routing explanations, timelines, notes.

Need-to-know: a post or transit desk sees the alerts it was offered (and still may act on) or
holds; supervisors and admins see all. Everything else answers 404.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import PROVINCE_WIDE_ROLES, Principal, StaffPrincipal
from app.errors import NotFound
from app.events import is_case_matter
from app.models import Alert, AlertNote, Assignment, OutboxEvent, RoutingDecision
from app.pagination import Cursor
from app.schemas.dispatch import (
    AssignmentRead,
    DecisionRead,
    NoteRead,
    PassedOnRead,
    RoutingRead,
    TimelineEntry,
)
from app.security.fields import KeyRing


def note_aad(alert_id: uuid.UUID) -> str:
    """Binds a note's ciphertext to its alert: a note copied onto another alert won't decrypt."""
    return f"alert.note:{alert_id}"


VISIBLE_TO_UNIT = ("offered", "accepted", "completed", "expired", "lapsed")
"""Leg statuses that let the unit see the alert: withdrawn or declined offers do not."""


async def unit_sees_alert(
    session: AsyncSession, staff: StaffPrincipal, alert_id: uuid.UUID
) -> bool:
    if staff.role in PROVINCE_WIDE_ROLES:
        return True
    if staff.unit_id is None:
        return False
    found = await session.scalar(
        select(Assignment.id)
        .where(
            Assignment.alert_id == alert_id,
            Assignment.unit_id == staff.unit_id,
            Assignment.status.in_(VISIBLE_TO_UNIT),
        )
        .limit(1)
    )
    return found is not None


async def can_see(session: AsyncSession, principal: Principal, alert_id: uuid.UUID) -> bool:
    return isinstance(principal, StaffPrincipal) and await unit_sees_alert(
        session, principal, alert_id
    )


def assignment_read(leg: Assignment, alert: Alert | None = None) -> AssignmentRead:
    return AssignmentRead(
        id=leg.id,
        alert_id=leg.alert_id,
        case_code=alert.case_code if alert else None,
        step=leg.step,
        unit_code=leg.unit_code,
        leg_kind=leg.leg_kind,
        reason=leg.reason,
        status=leg.status,
        preferred_sex=leg.preferred_sex,
        is_drill=alert.is_drill if alert else None,
        offered_at=leg.offered_at,
        deadline_at=leg.deadline_at,
        accepted_at=leg.accepted_at,
        accepted_by=leg.accepted_by,
        lease_expires_at=leg.lease_expires_at,
        closed_at=leg.closed_at,
        close_reason=leg.close_reason,
    )


async def list_assignments(
    session: AsyncSession,
    *,
    staff: StaffPrincipal,
    statuses: tuple[str, ...],
    unit_code: str | None,
    limit: int,
    cursor: Cursor | None,
) -> tuple[list[AssignmentRead], Cursor | None]:
    """Newest first. Unit staff get their own unit's; supervisors everything or one unit's."""
    query = (
        select(Assignment, Alert)
        .join(Alert, Alert.id == Assignment.alert_id)
        .where(Assignment.status.in_(statuses))
        .order_by(Assignment.offered_at.desc(), Assignment.id.desc())
    )
    if staff.role not in PROVINCE_WIDE_ROLES:
        query = query.where(Assignment.unit_id == staff.unit_id)
    elif unit_code is not None:
        query = query.where(Assignment.unit_code == unit_code)
    if cursor is not None:
        stamp, last_id = cursor.time_and_id()
        query = query.where(
            (Assignment.offered_at < stamp)
            | ((Assignment.offered_at == stamp) & (Assignment.id < last_id))
        )
    rows = (await session.execute(query.limit(limit + 1))).all()
    page = rows[:limit]
    items = [assignment_read(leg, alert) for leg, alert in page]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1][0]
        next_cursor = Cursor.of(last.offered_at, last.id)
    return items, next_cursor


async def routing_of(session: AsyncSession, alert: Alert) -> RoutingRead:
    decisions = (
        await session.scalars(
            select(RoutingDecision)
            .where(RoutingDecision.alert_id == alert.id)
            .order_by(RoutingDecision.step)
        )
    ).all()
    legs = (
        await session.scalars(
            select(Assignment)
            .where(Assignment.alert_id == alert.id)
            .order_by(Assignment.step, Assignment.unit_code)
        )
    ).all()
    by_decision: dict[uuid.UUID, list[AssignmentRead]] = {}
    for leg in legs:
        by_decision.setdefault(leg.decision_id, []).append(assignment_read(leg, alert))
    return RoutingRead(
        alert_id=alert.id,
        state=alert.state,
        dispatch_step=alert.dispatch_step,
        escalations=alert.escalations,
        transferred_at=alert.transferred_at,
        decisions=[
            DecisionRead(
                step=d.step,
                trigger=d.trigger,
                policy=d.policy,
                created_at=d.created_at,
                decision=d.decision,
                legs=by_decision.get(d.id, []),
            )
            for d in decisions
        ],
    )


async def passed_on(
    session: AsyncSession, *, staff: StaffPrincipal, alert_id: uuid.UUID
) -> PassedOnRead:
    """Where an alert went after the asking unit's leg: unit codes only. A unit that never had a
    leg on the alert gets 404, like any foreign object."""
    if staff.unit_id is None:
        raise NotFound()
    legs = (
        await session.execute(
            select(Assignment.unit_id, Assignment.unit_code, Assignment.status)
            .where(Assignment.alert_id == alert_id)
            .order_by(Assignment.step, Assignment.unit_code)
        )
    ).all()
    mine = [leg for leg in legs if leg.unit_id == staff.unit_id]
    if not mine:
        raise NotFound()
    state = await session.scalar(select(Alert.state).where(Alert.id == alert_id))
    closed = state in ("resolved", "cancelled")
    open_codes = [leg.unit_code for leg in legs if leg.status in ("offered", "accepted")]
    return PassedOnRead(
        alert_id=alert_id,
        unit_code=mine[0].unit_code,
        open_for_you=mine[0].unit_code in open_codes,
        passed_to=[] if closed else sorted(set(open_codes) - {mine[0].unit_code}),
        alert_closed=closed,
    )


async def timeline_of(
    session: AsyncSession, alert: Alert, *, case_matters: bool = True
) -> list[TimelineEntry]:
    """Every event of the alert in commit order (outbox payloads hold no personal data);
    without ``case_matters`` (transit staff) nothing about the case file."""
    events = (
        await session.scalars(
            select(OutboxEvent).where(OutboxEvent.alert_id == alert.id).order_by(OutboxEvent.id)
        )
    ).all()
    return [
        TimelineEntry(at=e.created_at, event=e.event_type, data=e.payload)
        for e in events
        if case_matters or not is_case_matter(e.event_type, e.payload)
    ]


async def notes_of(session: AsyncSession, alert: Alert, keyring: KeyRing) -> list[NoteRead]:
    notes = (
        await session.scalars(
            select(AlertNote)
            .where(AlertNote.alert_id == alert.id)
            .order_by(AlertNote.created_at, AlertNote.id)
        )
    ).all()
    return [
        NoteRead(
            id=n.id,
            author_id=n.author_id,
            text=str(keyring.decrypt_json(n.body_enc, aad=note_aad(alert.id))["text"]),
            created_at=n.created_at,
        )
        for n in notes
    ]

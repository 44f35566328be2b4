"""Read models of dispatch for staff: offers and claims, routing explanations, timelines, notes.

Who may see them is ``app.policy``'s answer (an ``AlertAccess``), which these functions only
apply: a unit whose sight ended gets what happened up to that moment and nothing after.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import StaffPrincipal
from app.dispatch.permissions import (
    Verdict,
    actor_of,
    facts_of,
    judge_all,
    may_accept,
    may_decline,
)
from app.errors import NotFound
from app.models import Alert, AlertNote, Assignment, OutboxEvent, RoutingDecision
from app.pagination import Cursor
from app.policy.alerts import AlertAccess, Denied, access_to, refuse, staff_fields
from app.policy.events import is_case_matter
from app.policy.fields import FieldAccess
from app.policy.profile import (
    close_reason,
    event_for,
    leg_reason,
    preferred_sex,
    routing_explanation,
)
from app.policy.roles import PROVINCE_WIDE_ROLES
from app.schemas.dispatch import (
    ActionRead,
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


def actions_read(verdicts: dict[str, Verdict]) -> dict[str, ActionRead]:
    return {
        name: ActionRead(
            allowed=v.allowed, reason=v.reason, until=v.until, assignment_id=v.assignment_id
        )
        for name, v in verdicts.items()
    }


async def actions_of(
    session: AsyncSession, alerts: Sequence[Alert], staff: StaffPrincipal, *, now: datetime,
    reopen_window_s: float,
) -> dict[uuid.UUID, dict[str, ActionRead]]:
    """Per alert, what ``staff`` may do now (``app.dispatch.permissions``), in one query."""
    legs = await _legs_by_alert(session, [a.id for a in alerts])
    actor = actor_of(staff)
    window = timedelta(seconds=reopen_window_s)
    return {
        alert.id: actions_read(
            judge_all(
                facts_of(alert, legs.get(alert.id, [])), actor, now=now, reopen_window=window
            )
        )
        for alert in alerts
    }


async def _legs_by_alert(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Assignment]]:
    found: dict[uuid.UUID, list[Assignment]] = {}
    if not ids:
        return found
    rows = await session.scalars(
        select(Assignment)
        .where(Assignment.alert_id.in_(ids))
        .order_by(Assignment.step, Assignment.offered_at, Assignment.unit_code)
    )
    for leg in rows:
        found.setdefault(leg.alert_id, []).append(leg)
    return found


def assignment_read(
    leg: Assignment, alert: Alert | None = None, *, fields: FieldAccess
) -> AssignmentRead:
    """One leg as ``fields`` may read it: pseudonymous callers learn nothing of the victim's
    companion preference from why and how the unit was chosen."""
    return AssignmentRead(
        id=leg.id,
        alert_id=leg.alert_id,
        case_code=alert.case_code if alert else None,
        step=leg.step,
        unit_code=leg.unit_code,
        leg_kind=leg.leg_kind,
        reason=leg_reason(fields, leg.reason),
        status=leg.status,
        preferred_sex=preferred_sex(fields, leg.preferred_sex),
        is_drill=alert.is_drill if alert else None,
        offered_at=leg.offered_at,
        deadline_at=leg.deadline_at,
        accepted_at=leg.accepted_at,
        accepted_by=leg.accepted_by,
        lease_expires_at=leg.lease_expires_at,
        closed_at=leg.closed_at,
        close_reason=close_reason(fields, leg.status, leg.close_reason),
    )


async def list_assignments(
    session: AsyncSession,
    *,
    staff: StaffPrincipal,
    statuses: tuple[str, ...],
    unit_code: str | None,
    limit: int,
    cursor: Cursor | None,
    now: datetime,
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
    fields = staff_fields(staff, holder=False)  # only its pseudonymity matters to a leg
    # Each row answers "may I accept or decline this?" with the actions' own judgement.
    legs = await _legs_by_alert(session, list({alert.id for _, alert in page}))
    actor = actor_of(staff)
    items = []
    for leg, alert in page:
        facts = facts_of(alert, legs.get(alert.id, []))
        mine = next(g for g in facts.legs if g.id == leg.id)
        item = assignment_read(leg, alert, fields=fields)
        if leg.unit_id == staff.unit_id:
            item.actions = actions_read(
                {
                    "accept": may_accept(facts, actor, mine, now),
                    "decline": may_decline(facts, actor, mine),
                }
            )
        items.append(item)
    next_cursor = None
    if len(rows) > limit:
        last = page[-1][0]
        next_cursor = Cursor.of(last.offered_at, last.id)
    return items, next_cursor


async def routing_of(session: AsyncSession, alert: Alert, access: AlertAccess) -> RoutingRead:
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
    decisions = [d for d in decisions if access.covers(d.created_at)]
    by_decision: dict[uuid.UUID, list[AssignmentRead]] = {}
    for leg in (g for g in legs if access.covers(g.offered_at)):
        by_decision.setdefault(leg.decision_id, []).append(
            assignment_read(leg, alert, fields=access.fields)
        )
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
                decision=routing_explanation(access.fields, d.decision),
                legs=by_decision.get(d.id, []),
            )
            for d in decisions
        ],
    )


async def passed_on(
    session: AsyncSession, *, staff: StaffPrincipal, alert_id: uuid.UUID, now: datetime
) -> PassedOnRead:
    """Where an alert went after the asking unit's leg: unit codes only. A unit that never had a
    leg on the alert gets 404, like any foreign object (the policy's own judgement)."""
    alert = await session.get(Alert, alert_id)
    if alert is None or staff.unit_id is None:
        raise NotFound()
    answer = await access_to(session, staff, alert, now=now)
    if isinstance(answer, Denied) and not answer.had_it:
        raise await refuse(session, staff, alert, answer, now=now)
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
    closed = alert.state in ("resolved", "cancelled")
    open_codes = [leg.unit_code for leg in legs if leg.status in ("offered", "accepted")]
    return PassedOnRead(
        alert_id=alert_id,
        unit_code=mine[0].unit_code,
        open_for_you=mine[0].unit_code in open_codes,
        passed_to=[] if closed else sorted(set(open_codes) - {mine[0].unit_code}),
        alert_closed=closed,
    )


async def timeline_of(
    session: AsyncSession, alert: Alert, access: AlertAccess
) -> list[TimelineEntry]:
    """Every event of the alert the caller may see, in commit order (outbox payloads hold no
    personal data); without ``case_matters`` (transit staff) nothing about the case file, and
    pseudonymous as the stream tells them (``app.policy.profile``)."""
    events = (
        await session.scalars(
            select(OutboxEvent).where(OutboxEvent.alert_id == alert.id).order_by(OutboxEvent.id)
        )
    ).all()
    entries: list[TimelineEntry] = []
    for e in events:
        if not access.covers(e.created_at) or (
            not access.fields.case_matters and is_case_matter(e.event_type, e.payload)
        ):
            continue
        name, data = event_for(access.fields, e.event_type, e.payload)
        entries.append(TimelineEntry(at=e.created_at, event=name, data=data))
    return entries


async def notes_of(
    session: AsyncSession, alert: Alert, access: AlertAccess, keyring: KeyRing
) -> list[NoteRead]:
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
            text=(
                str(keyring.decrypt_json(n.body_enc, aad=note_aad(alert.id))["text"])
                if access.fields.shows_notes
                else None  # a restricted record: not even decrypted
            ),
            created_at=n.created_at,
        )
        for n in notes
        if access.covers(n.created_at)
    ]

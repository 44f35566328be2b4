"""Attention items: what on an alert needs a supervisor now, ranked by the server and kept open
until a supervisor acknowledges it or the alert closes.

In: alerts the SLA monitor (or the dispatcher, in its own transaction) brings up to date, with
the facts their clocks were judged on; or a caller with a flag of its own (``raise_item``: the
kinds are an open list). Out: ``attention_item`` rows and the events ``attention.raised`` /
``attention.cleared`` (supervisors and admins only), which the board lists and sorts by.

A flag the alert's state derives (``assess``) is raised when its condition first holds. The
kinds in ``SELF_CLEARING`` clear when their condition ends (someone accepts; 112 confirms); the
others are facts that happened (a breach, a duress cancel, a repeat press) and stay until a
supervisor acknowledges them. An acknowledged item is never raised again for the same ``key``;
a new occurrence (another clock breached, another press) raises a new one, which supersedes
the open item of its kind.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, NotFound
from app.events import emit
from app.models import Alert, AttentionItem, IntegratorClient, PartnerStatus, SlaClock
from app.pagination import Cursor

RAISED, CLEARED = "attention.raised", "attention.cleared"

UNHELD = "unheld"
"""Nobody holds the alert and no leg is open: nobody will act unless a supervisor does."""
HANDOFF_UNCONFIRMED = "handoff_unconfirmed"
"""Handed off to Jakarta Siaga 112, and no 112 system has confirmed it."""
LADDER_EXHAUSTED = "ladder_exhausted"
"""Every step of the ladder was tried (the central desk included): it went to 112."""
SLA_BREACHED = "sla_breached"
DURESS = "duress"
"""Cancelled under the duress PIN: the phone shows it cancelled, the danger goes on."""
REPEAT_PRESS = "repeat_press"
FLOOD_SUSPECTED = "flood_suspected"
"""One device kept cancelling and pressing again past the ring bound (``docs/intake.md``,
"Floods"): the alert is no longer re-offered, and stays open here for a supervisor to judge."""

RANKS: dict[str, int] = {
    UNHELD: 100,
    HANDOFF_UNCONFIRMED: 90,
    LADDER_EXHAUSTED: 80,
    SLA_BREACHED: 70,
    DURESS: 60,
    REPEAT_PRESS: 50,
    FLOOD_SUSPECTED: 40,
}
OTHER_RANK = 30
"""A kind this table does not know yet (the list is open): below the known ones, still shown."""

SELF_CLEARING = frozenset({UNHELD, HANDOFF_UNCONFIRMED})
OPEN_LEGS = ("offered", "accepted")
CLOSED_STATES = ("resolved", "cancelled")
ACKNOWLEDGED_112 = ("accepted", "dispatched", "on_scene", "closed")


def rank_of(kind: str) -> int:
    return RANKS.get(kind, OTHER_RANK)


@dataclass(frozen=True)
class Flag:
    kind: str
    key: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertAttention:
    """What ``assess`` needs of one alert beyond its row."""

    open_legs: int
    breached: tuple[str, ...]
    """Clocks breached (drills and excluded alerts never count)."""
    confirmed_112: bool


def assess(alert: Alert, facts: AlertAttention) -> list[Flag]:
    """The flags an open alert's state calls for now (pure). A drill raises none: a rehearsal
    must never push a real alert down the supervisors' board."""
    if alert.state in CLOSED_STATES or alert.is_drill:
        return []
    flags: list[Flag] = []
    if alert.routed_at is not None and facts.open_legs == 0:
        flags.append(Flag(UNHELD, str(alert.dispatch_step), {"step": alert.dispatch_step}))
    if alert.transferred_at is not None:
        flags.append(Flag(LADDER_EXHAUSTED, "112", {"to": "112"}))
        if not facts.confirmed_112:
            flags.append(Flag(HANDOFF_UNCONFIRMED, "112", {"to": "112"}))
    if facts.breached:
        flags.append(Flag(SLA_BREACHED, ",".join(facts.breached), {"clocks": list(facts.breached)}))
    if alert.duress:
        flags.append(Flag(DURESS))
    if alert.press_count > 1:
        flags.append(Flag(REPEAT_PRESS, str(alert.press_count), {"presses": alert.press_count}))
    if alert.flood_suspected_at is not None:
        flags.append(Flag(FLOOD_SUSPECTED, "", {"reopens": alert.reopen_count}))
    return flags


async def reconcile(
    session: AsyncSession,
    alerts: Sequence[Alert],
    *,
    leg_statuses: dict[uuid.UUID, set[str]],
    clocks: dict[uuid.UUID, dict[str, SlaClock]],
    now: datetime,
) -> None:
    """Bring these alerts' attention items in step with their state (the caller holds their
    locks, as the SLA sync does, and commits). ``leg_statuses`` and ``clocks`` are the facts the
    sync just judged the clocks on."""
    if not alerts:
        return
    ids = [a.id for a in alerts]
    existing: dict[uuid.UUID, list[AttentionItem]] = {}
    for item in (
        await session.scalars(select(AttentionItem).where(AttentionItem.alert_id.in_(ids)))
    ).all():
        existing.setdefault(item.alert_id, []).append(item)
    transferred = [a.id for a in alerts if a.transferred_at is not None]
    confirmed: set[uuid.UUID] = set()
    if transferred:
        confirmed = set(
            (
                await session.scalars(
                    select(PartnerStatus.alert_id)
                    .join(IntegratorClient, IntegratorClient.id == PartnerStatus.integrator_id)
                    .where(
                        PartnerStatus.alert_id.in_(transferred),
                        IntegratorClient.data_scope == "112",
                        PartnerStatus.status.in_(ACKNOWLEDGED_112),
                    )
                )
            ).all()
        )
    for alert in alerts:
        statuses = leg_statuses.get(alert.id, set())
        breached = tuple(
            sorted(
                name
                for name, row in clocks.get(alert.id, {}).items()
                if row.status == "breached" and not row.excluded
            )
        )
        facts = AlertAttention(
            open_legs=sum(1 for s in statuses if s in OPEN_LEGS),
            breached=breached,
            confirmed_112=alert.id in confirmed,
        )
        _apply(session, alert, assess(alert, facts), existing.get(alert.id, []), now)


def _apply(
    session: AsyncSession,
    alert: Alert,
    flags: list[Flag],
    items: list[AttentionItem],
    now: datetime,
) -> None:
    closed = alert.state in CLOSED_STATES
    wanted = {flag.kind: flag for flag in flags}
    for item in items:
        if item.cleared_at is not None:
            continue
        flag = wanted.get(item.kind)
        if closed:
            _clear(session, alert, item, reason="alert_closed", by=None, now=now)
        elif flag is None:
            if item.kind in SELF_CLEARING:
                _clear(session, alert, item, reason="condition_ended", by=None, now=now)
        elif flag.key != item.key:
            _clear(session, alert, item, reason="superseded", by=None, now=now)
    seen = {(item.kind, item.key) for item in items}
    for flag in flags:
        if (flag.kind, flag.key) not in seen:
            items.append(_raise(session, alert, flag, now))


def _raise(session: AsyncSession, alert: Alert, flag: Flag, now: datetime) -> AttentionItem:
    item = AttentionItem(
        id=uuid.uuid4(),
        alert_id=alert.id,
        kind=flag.kind,
        key=flag.key,
        rank=rank_of(flag.kind),
        detail=flag.detail,
        raised_at=now,
    )
    session.add(item)
    emit(session, RAISED, at=now, alert_id=alert.id, data=_event_data(item, alert.case_code))
    return item


def _clear(
    session: AsyncSession,
    alert: Alert,
    item: AttentionItem,
    *,
    reason: str,
    by: uuid.UUID | None,
    now: datetime,
) -> None:
    item.cleared_at, item.clear_reason, item.cleared_by = now, reason, by
    emit(
        session,
        CLEARED,
        at=now,
        alert_id=alert.id,
        data={**_event_data(item, alert.case_code), "reason": reason},
    )


def _event_data(item: AttentionItem, case_code: str) -> dict[str, Any]:
    return {
        "item_id": str(item.id),
        "kind": item.kind,
        "rank": item.rank,
        "detail": item.detail,
        "case_code": case_code,
    }


async def raise_item(
    session: AsyncSession,
    *,
    alert: Alert,
    kind: str,
    key: str = "",
    detail: dict[str, Any] | None = None,
    now: datetime,
) -> AttentionItem | None:
    """Raise a flag the alert's state does not show (e.g. ``flood_suspected``): once per
    (alert, kind, key); None when that occurrence was raised before. It stays open until a
    supervisor acknowledges it or the alert closes."""
    if alert.state in CLOSED_STATES:
        return None
    found = await session.scalar(
        select(AttentionItem.id).where(
            AttentionItem.alert_id == alert.id, AttentionItem.kind == kind, AttentionItem.key == key
        )
    )
    if found is not None:
        return None
    return _raise(session, alert, Flag(kind, key, detail or {}), now)


async def acknowledge(
    session: AsyncSession, *, item_id: uuid.UUID, staff_id: uuid.UUID, now: datetime
) -> tuple[AttentionItem, str]:
    """A supervisor has dealt with this item: it leaves every board (the caller audits).
    Returns it with its alert's case code."""
    item = await session.get(AttentionItem, item_id, with_for_update=True)
    if item is None:
        raise NotFound()
    if item.cleared_at is not None:
        raise Conflict("This item is no longer open.")
    alert = await session.get(Alert, item.alert_id)
    assert alert is not None  # a foreign key
    _clear(session, alert, item, reason="acknowledged", by=staff_id, now=now)
    return item, alert.case_code


async def open_items(
    session: AsyncSession, *, limit: int, cursor: Cursor | None
) -> tuple[list[tuple[AttentionItem, str]], Cursor | None]:
    """Open items with their alert's case code, newest first (keyset on raised_at, id)."""
    query = (
        select(AttentionItem, Alert.case_code)
        .join(Alert, Alert.id == AttentionItem.alert_id)
        .where(AttentionItem.cleared_at.is_(None))
        .order_by(AttentionItem.raised_at.desc(), AttentionItem.id.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        at, row_id = cursor.time_and_id()
        query = query.where(
            or_(
                AttentionItem.raised_at < at,
                and_(AttentionItem.raised_at == at, AttentionItem.id < row_id),
            )
        )
    rows = [(item, code) for item, code in (await session.execute(query)).all()]
    following = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1][0]
        following = Cursor.of(last.raised_at, last.id)
    return rows, following

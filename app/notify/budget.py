"""What sending may cost: two daily pools, counted on the region's calendar, and lanes within the
ordinary one.

Routine messages (offers) spend the ``ordinary`` pool (``notify_daily_cap``); escalations, the
112 hand-off and 112 not acknowledging it, SLA breaches, a stalled loop and the cap alert itself
spend a separate ``critical`` pool (``notify_critical_daily_cap``) that routine messages can never
touch. A day is the local day of the region (Asia/Jakarta for DKI), not UTC's, which in Jakarta
would end at 07:00.

Within the ordinary pool, messages about an alert take the lane of the device that pressed
(``lane_of``): devices registered at least ``notify_established_age_s`` before, vetted and with
no flood history keep a reserved share (``notify_reserved_share``) that new devices cannot spend;
unvetted devices (registered past their network's limit) draw on a small lane of their own
(``notify_unvetted_daily_cap``) inside the same unreserved part. Messages about no alert (to
supervisors) are established. When the day's routine spending reaches ``notify_low_fraction`` of
the cap, supervisors are told once, from the critical pool.

Spending is reserved when a batch is claimed, under the pool's row lock, so two senders cannot
both spend its last unit; an attempt that sent nothing is refunded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import DispatchSettings
from app.models import NotificationBudget
from app.upsert import dialect_insert

ORDINARY, CRITICAL = "ordinary", "critical"
CRITICAL_KINDS = frozenset(
    {
        "escalation",
        "transfer",
        "handoff_unacknowledged",
        "sla_breached",
        "loop_stalled",
        "notify_capped",
        "notify_low",
        "flood_suspected",
        "registration_surge",
    }
)
"""Never held back by the per-alert limit, spent from the reserved pool, and coalesced into one
digest per person per ``notify_digest_window_s``: a supervisor must hear of every escalation, the
112 hand-off, 112's silence about it ("phone 112 now") and every breach, but a flood of fake
alerts must not drain the budget or a phone."""


ESTABLISHED, NEW, UNVETTED = "established", "new", "unvetted"
"""Lanes of the ordinary pool, by the history of the device whose alert a message is about."""
LANES = (ESTABLISHED, NEW, UNVETTED)
UNVETTED_POOL = "unvetted"
"""A budget row counting the unvetted lane's own spending (it also counts in ``ordinary``)."""
LOW_MARK = "ordinary_low"
"""A budget row spent once a day, when supervisors are told the ordinary pool runs low."""


def lane_of(
    *,
    registered_at: datetime | None,
    unvetted: bool | None,
    flooded_at: datetime | None,
    now: datetime,
    settings: DispatchSettings,
) -> str:
    """The lane of a message about an alert of a device with these facts (None: no device,
    e.g. a message to supervisors about no alert)."""
    if registered_at is None:
        return ESTABLISHED
    if unvetted:
        return UNVETTED
    if flooded_at is not None or registered_at > now - timedelta(
        seconds=settings.notify_established_age_s
    ):
        return NEW
    return ESTABLISHED


def lane_ceiling(lane: str, settings: DispatchSettings) -> int:
    """The ordinary pool's spending up to which ``lane`` may still send today."""
    cap = settings.notify_daily_cap
    if lane == ESTABLISHED:
        return cap
    return cap - round(cap * settings.notify_reserved_share)


def pool_of(kind: str) -> str:
    return CRITICAL if kind in CRITICAL_KINDS else ORDINARY


def cap_of(pool: str, settings: DispatchSettings) -> int:
    return settings.notify_critical_daily_cap if pool == CRITICAL else settings.notify_daily_cap


def local_day(now: datetime, zone: tzinfo) -> date:
    """The calendar day ``now`` falls on in the region (a budget's key)."""
    return now.astimezone(zone).date()


@dataclass(frozen=True)
class Grant:
    granted: int
    spent: int
    """The pool's spending today after this grant."""
    first_refusal: bool
    """True the first time today this pool turned a message away: supervisors must be told."""


async def spend_ordinary(
    session: AsyncSession,
    *,
    day: date,
    lane: str,
    wanted: int,
    settings: DispatchSettings,
    now: datetime,
) -> Grant:
    """Reserve up to ``wanted`` routine sends for ``lane``: the unvetted lane from its own small
    budget first, every lane from the ordinary pool up to its ceiling."""
    if lane == UNVETTED:
        own = await spend(
            session,
            day=day,
            pool=UNVETTED_POOL,
            wanted=wanted,
            cap=settings.notify_unvetted_daily_cap,
            now=now,
        )
        wanted = own.granted  # none left in its own lane: the pool is only read
    grant = await spend(
        session,
        day=day,
        pool=ORDINARY,
        wanted=wanted,
        cap=settings.notify_daily_cap,
        now=now,
        ceiling=lane_ceiling(lane, settings),
    )
    if lane == UNVETTED:
        await refund(session, day=day, pool=UNVETTED_POOL, count=wanted - grant.granted)
    return grant


async def first_time_low(
    session: AsyncSession, *, day: date, spent: int, settings: DispatchSettings, now: datetime
) -> bool:
    """True once a day, when the ordinary pool's spending first reaches its low mark (a pool
    already spent is told of by its cap alert instead)."""
    if not settings.notify_daily_cap * settings.notify_low_fraction <= spent < (
        settings.notify_daily_cap
    ):
        return False
    grant = await spend(session, day=day, pool=LOW_MARK, wanted=1, cap=1, now=now)
    return grant.granted == 1


async def spend(
    session: AsyncSession,
    *,
    day: date,
    pool: str,
    wanted: int,
    cap: int,
    now: datetime,
    ceiling: int | None = None,
) -> Grant:
    """Reserve up to ``wanted`` sends from today's ``pool``, never past ``cap`` nor (for a lane)
    past ``ceiling``; the caller's transaction commits. Only reaching ``cap`` itself counts as
    the pool's first refusal."""
    await session.execute(
        _insert_day(session),
        {"day": day, "pool": pool, "spent": 0, "capped_at": None},
    )
    row = await session.scalar(
        select(NotificationBudget)
        .where(NotificationBudget.day == day, NotificationBudget.pool == pool)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None  # inserted above if it was missing
    limit = cap if ceiling is None else min(cap, ceiling)
    granted = max(0, min(wanted, limit - row.spent))
    row.spent += granted
    first_refusal = granted < wanted and row.spent >= cap and row.capped_at is None
    if first_refusal:
        row.capped_at = now
    return Grant(granted=granted, spent=row.spent, first_refusal=first_refusal)


async def refund(session: AsyncSession, *, day: date, pool: str, count: int) -> None:
    """Give back what attempts that reached nobody had reserved."""
    if count:
        await session.execute(
            update(NotificationBudget)
            .where(NotificationBudget.day == day, NotificationBudget.pool == pool)
            .values(spent=NotificationBudget.spent - count)
        )


_INSERTS: dict[str, Any] = {}


def _insert_day(session: AsyncSession) -> Any:
    name = session.get_bind().dialect.name
    if name not in _INSERTS:
        _INSERTS[name] = dialect_insert(session, NotificationBudget).on_conflict_do_nothing(
            index_elements=["day", "pool"]
        )
    return _INSERTS[name]

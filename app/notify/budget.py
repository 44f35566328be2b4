"""What sending may cost: two daily pools, counted on the region's calendar.

Routine messages (offers) spend the ``ordinary`` pool (``notify_daily_cap``); escalations, the
112 hand-off and 112 not acknowledging it, SLA breaches, a stalled loop and the cap alert itself
spend a separate ``critical`` pool (``notify_critical_daily_cap``) that routine messages can never
touch. A day is the local day of the region (Asia/Jakarta for DKI), not UTC's, which in Jakarta
would end at 07:00.

Spending is reserved when a batch is claimed, under the pool's row lock, so two senders cannot
both spend its last unit; an attempt that sent nothing is refunded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
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
    }
)
"""Never held back by the per-alert limit, spent from the reserved pool, and coalesced into one
digest per person per ``notify_digest_window_s``: a supervisor must hear of every escalation, the
112 hand-off, 112's silence about it ("phone 112 now") and every breach, but a flood of fake
alerts must not drain the budget or a phone."""


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


async def spend(
    session: AsyncSession, *, day: date, pool: str, wanted: int, cap: int, now: datetime
) -> Grant:
    """Reserve up to ``wanted`` sends from today's ``pool``; the caller's transaction commits."""
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
    granted = max(0, min(wanted, cap - row.spent))
    row.spent += granted
    first_refusal = granted < wanted and row.capped_at is None
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

"""What every ``sigap`` sub-command shares: a session for one unit of work, error output, the
operator's identity for the audit trail, and times in the region's own zone.

Times are printed in the region's time zone with its offset (``2026-12-08 07:00 +07:00``), as the
console shows them: a shift printed in UTC reads as another day to someone in Jakarta.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import create_engine, create_sessionmaker

T = TypeVar("T")

# Before any region is loaded (a fresh database) there is no zone to read: the shipped region's.
_FALLBACK_ZONE = "Asia/Jakarta"


async def in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one session and commit it; one small pool, disposed before returning."""
    engine = create_engine(settings, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def run(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``in_session`` from synchronous code: one command, one event loop."""
    return asyncio.run(in_session(settings, work))


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


async def region_zone(session: AsyncSession) -> tzinfo:
    from app.models import Region

    name = await session.scalar(select(Region.timezone).order_by(Region.code).limit(1))
    return ZoneInfo(name or _FALLBACK_ZONE)


def local(at: datetime | None, zone: tzinfo) -> str:
    """``2026-12-08 07:00 +07:00``: minutes, and the offset that says which zone."""
    if at is None:
        return "-"
    text = at.astimezone(zone).strftime("%Y-%m-%d %H:%M %z")
    return f"{text[:-2]}:{text[-2:]}"


def print_rows(rows: Iterable[str], *, empty: str) -> None:
    """Print each row, or say plainly that there is none: silence reads as a broken command."""
    printed = False
    for row in rows:
        print(row)
        printed = True
    if not printed:
        print(empty)


def with_zone(
    work: Callable[[AsyncSession], Awaitable[T]],
) -> Callable[[AsyncSession], Awaitable[tuple[T, tzinfo]]]:
    """Wrap a unit of work so it also returns the region's zone, read in the same session."""

    async def both(session: AsyncSession) -> tuple[T, tzinfo]:
        return await work(session), await region_zone(session)

    return both


"""Fixed-window rate limits kept in the database, so every server process shares one count."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import RateLimited
from app.models import RateLimitCounter
from app.upsert import dialect_insert


def network_key(client_host: str | None) -> str:
    """IPv4 per address (carrier-grade NAT already groups many phones), IPv6 per /64."""
    if not client_host:
        return "unknown"
    try:
        address = ipaddress.ip_address(client_host)
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return (
        str(address.ipv4_mapped or address)
        if isinstance(address, ipaddress.IPv6Address)
        else str(address)
    )


def window_start(now: datetime, window: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + window * ((now - epoch) // window)


async def count_hit(
    session: AsyncSession, *, key: str, window: timedelta, now: datetime
) -> int:
    """Count one hit against ``key`` in the current window; the window's count so far."""
    start = window_start(now, window)
    statement = (
        dialect_insert(session, RateLimitCounter)
        .values(key=key, window_start=start, count=1)
        .on_conflict_do_update(
            index_elements=["key", "window_start"],
            set_={"count": RateLimitCounter.count + 1},
        )
        .returning(RateLimitCounter.count)
    )
    return int((await session.execute(statement)).scalar_one())


async def enforce(
    session: AsyncSession, *, key: str, limit: int, window: timedelta, now: datetime
) -> None:
    """Count one hit against ``key``; raise RateLimited past ``limit`` in the current window."""
    start = window_start(now, window)
    count = await count_hit(session, key=key, window=window, now=now)
    if count > limit:
        retry_after = int((start + window - now).total_seconds()) + 1
        raise RateLimited(
            f"Too many requests from this network; retry in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )


async def purge(session: AsyncSession, *, before: datetime) -> int:
    result = await session.execute(
        delete(RateLimitCounter).where(RateLimitCounter.window_start < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)

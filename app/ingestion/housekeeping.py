"""Housekeeping of intake state: expired idempotency records and old rate-limit windows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from app.context import AppContext
from app.models import IdempotencyRecord
from app.ratelimit import purge


async def purge_expired(context: AppContext) -> None:
    now = context.clock.now()
    async with context.sessions() as session:
        await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
        await purge(session, before=now - timedelta(days=1))
        await session.commit()


async def refresh_geo(context: AppContext) -> None:
    async with context.sessions() as session:
        await context.geo.refresh(session)

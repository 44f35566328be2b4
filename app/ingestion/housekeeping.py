"""Housekeeping of intake state: expired idempotency records, old rate-limit windows, sign-in
throttle rows idle for longer than the trust period, the ids of inbound partner webhooks no
replay could pass with any more (app/integrations/partners.py), and outbox events past their
retention (app/ingestion/retention.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from app.context import AppContext
from app.identity.throttle import purge_idle
from app.ingestion.retention import purge_outbox
from app.integrations.partners import purge_receipts
from app.models import IdempotencyRecord
from app.ratelimit import purge


async def purge_expired(context: AppContext) -> None:
    now = context.clock.now()
    async with context.sessions() as session:
        await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
        await purge(session, before=now - timedelta(days=1))
        trust_days = context.settings.security.signin_trusted_network_days
        await purge_idle(session, before=now - timedelta(days=trust_days + 1))
        tolerance_s = context.settings.integrations.inbound_tolerance_s
        await purge_receipts(session, now=now, tolerance_s=tolerance_s)
        await session.commit()
    await purge_outbox(context, now=now)


async def refresh_geo(context: AppContext) -> None:
    async with context.sessions() as session:
        await context.geo.refresh(session)

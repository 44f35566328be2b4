"""The 112 hand-off delivered: the transfer reaches the 112 integrator as a thin webhook (an
``alert.transferred`` subscription of a client with the ``112`` data scope), 112 fetches the
EIDO incident and acknowledges with partner status; a hand-off nobody acknowledged within
``handoff_ack_s`` goes to the supervisor with 112's phone number as the fallback, both in the
notification and on the console (``alert.handoff_unacknowledged``).

With no 112 integrator connected, start-up says so; the ladder tells the supervisor of every
transfer regardless (``app.dispatch.ladder.transfer``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import notify
from app.events import emit
from app.isolation import drain_isolated
from app.models import (
    Alert,
    IntegratorClient,
    OutboxEvent,
    PartnerStatus,
    WebhookEndpoint,
)

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger("sigap.integrations")
UNACKNOWLEDGED = "alert.handoff_unacknowledged"
LOOP_NAME = "handoffs"
BATCH = 50


async def connected_112(session: AsyncSession) -> int:
    """How many live 112 clients have a live endpoint subscribed to transfers."""
    rows = await session.execute(
        select(WebhookEndpoint.event_types)
        .join(IntegratorClient, IntegratorClient.id == WebhookEndpoint.integrator_id)
        .where(
            IntegratorClient.data_scope == "112",
            IntegratorClient.disabled_at.is_(None),
            WebhookEndpoint.disabled_at.is_(None),
        )
    )
    return sum(1 for (types,) in rows if "alert.transferred" in types)


async def announce_112(context: AppContext) -> None:
    async with context.sessions() as session:
        if await connected_112(session) == 0:
            log.warning(
                "no Jakarta Siaga 112 integrator is connected: a transfer to 112 reaches only "
                "the supervisor (told on every transfer), who must phone %s",
                context.settings.integrations.phone_112,
            )


def _overdue(context: AppContext, now: datetime) -> tuple[ColumnElement[bool], ...]:
    """A transfer no 112 client acknowledged in time, and nobody was told of yet."""
    acknowledged = exists(
        select(PartnerStatus.id)
        .join(IntegratorClient, IntegratorClient.id == PartnerStatus.integrator_id)
        .where(
            PartnerStatus.alert_id == Alert.id,
            IntegratorClient.data_scope == "112",
            PartnerStatus.status.in_(("accepted", "dispatched", "on_scene", "closed")),
        )
    )
    told = exists(
        select(OutboxEvent.id).where(
            and_(OutboxEvent.alert_id == Alert.id, OutboxEvent.event_type == UNACKNOWLEDGED)
        )
    )
    ack_s = context.settings.integrations.handoff_ack_s
    # No look-back window: after an outage of any length every overdue hand-off is escalated.
    # Open alerts only (a cancelled one is over, and its events, "told" included, are purged
    # after outbox.retention_days, which would escalate it again); the first three conditions
    # are the partial index ix_alert_handoff_open, so the list stays cheap as alerts pile up.
    return (
        Alert.transferred_at.is_not(None),
        Alert.resolved_at.is_(None),
        Alert.cancelled_at.is_(None),
        Alert.transferred_at <= now - timedelta(seconds=ack_s),
        ~acknowledged,
        ~told,
    )


async def overdue_handoffs(
    session: AsyncSession,
    context: AppContext,
    now: datetime,
    *,
    limit: int = BATCH,
    skip: frozenset[uuid.UUID] = frozenset(),
) -> list[uuid.UUID]:
    """``skip``: alerts set aside, left out so they cannot fill the ``limit``."""
    return list(
        await session.scalars(
            select(Alert.id)
            .where(*_overdue(context, now), Alert.id.not_in(skip))
            .order_by(Alert.transferred_at)
            .limit(limit)
        )
    )


async def escalate(
    session: AsyncSession, context: AppContext, alert_ids: Sequence[uuid.UUID], now: datetime
) -> int:
    """Tell supervisors of these overdue hand-offs (asked again: still overdue, still untold)."""
    alerts = (
        await session.scalars(
            select(Alert).where(Alert.id.in_(alert_ids), *_overdue(context, now)).order_by(Alert.id)
        )
    ).all()
    for alert in alerts:
        await tell_supervisors(session, context, alert, now)
    return len(alerts)


async def tell_supervisors(
    session: AsyncSession, context: AppContext, alert: Alert, now: datetime
) -> None:
    settings = context.settings.integrations
    recipients = await notify.supervisors_on_duty(
        session,
        region_code=alert.region_code,
        at=now,
    )
    await notify.queue(
        session,
        recipients=recipients,
        kind="handoff_unacknowledged",
        # The case code only: never a name, phone, or whether the victim is a child.
        text=(
            f"Sigap {alert.case_code}: 112 has not acknowledged the hand-off. "
            f"Phone 112 now: {settings.phone_112}."
        ),
        alert_id=alert.id,
        ref="112-ack",
        now=now,
        settings=context.settings.dispatch,
    )
    emit(
        session,
        UNACKNOWLEDGED,
        at=now,
        alert_id=alert.id,
        data={"to": "112", "phone_fallback": settings.phone_112, "case_code": alert.case_code},
    )


async def check_handoffs(context: AppContext) -> None:
    """The hand-off check's body (every few seconds: the deadline is minutes)."""
    await escalate_overdue(context)


async def escalate_overdue(context: AppContext) -> int:
    """Escalate every overdue hand-off, a batch per transaction; returns how many. One alert
    that fails is set aside, and the rest of its batch is escalated (app/isolation.py)."""
    now = context.clock.now()

    async def due(session: AsyncSession, aside: frozenset[str]) -> list[uuid.UUID]:
        skip = frozenset(uuid.UUID(key) for key in aside)
        return await overdue_handoffs(session, context, now, skip=skip)

    async def work(session: AsyncSession, ids: Sequence[uuid.UUID]) -> int:
        return await escalate(session, context, ids, now)

    return await drain_isolated(context, loop=LOOP_NAME, batch=BATCH, due=due, work=work)

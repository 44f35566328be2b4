"""The 112 hand-off: unacknowledged in time, the supervisor is told once with the phone fallback;
acknowledged by 112 through partner status, nobody is bothered."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from app.context import AppContext
from app.integrations.handoff import UNACKNOWLEDGED, escalate_unacknowledged
from app.models import Notification, OutboxEvent
from tests.helpers import auth, make_staff
from tests.integrations.test_webhooks import client_token, transferred_alert


async def escalate(context: AppContext) -> int:
    async with context.sessions() as session, session.begin():
        return await escalate_unacknowledged(session, context, context.clock.now())


async def test_an_unacknowledged_hand_off_reaches_the_supervisor_once(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await make_staff(context, "supervisor.pusat", "supervisor", "central")
    alert_id = await transferred_alert(client, context)
    assert await escalate(context) == 0  # not overdue yet
    context.clock.advance(context.settings.integrations.handoff_ack_s + 1)  # type: ignore[attr-defined]
    assert await escalate(context) == 1
    assert await escalate(context) == 0
    async with context.sessions() as session:
        texts = list(
            await session.scalars(
                select(Notification.text).where(Notification.kind == "handoff_unacknowledged")
            )
        )
        event = await session.scalar(
            select(OutboxEvent).where(OutboxEvent.event_type == UNACKNOWLEDGED)
        )
    assert len(texts) == 1 and "112" in texts[0]
    assert event is not None and event.alert_id == alert_id
    assert event.payload["phone_fallback"] == context.settings.integrations.phone_112


async def test_an_acknowledged_hand_off_is_not_escalated(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await make_staff(context, "supervisor.pusat", "supervisor", "central")
    token = await client_token(client, context, scopes=["partner_status:write"], data_scope="112")
    alert_id = await transferred_alert(client, context)
    ack = await client.post(
        "/v1/integrations/status",
        json={"alert_id": str(alert_id), "status": "accepted"},
        headers=auth(token),
    )
    assert ack.status_code == 201, ack.text
    context.clock.advance(context.settings.integrations.handoff_ack_s + 1)  # type: ignore[attr-defined]
    assert await escalate(context) == 0

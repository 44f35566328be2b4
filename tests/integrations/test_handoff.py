"""The 112 hand-off: unacknowledged in time, the supervisor is told once with the phone fallback
(a critical message); acknowledged by 112 through partner status, nobody is bothered."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from app import notify
from app.context import AppContext
from app.integrations.handoff import UNACKNOWLEDGED, escalate_overdue
from app.models import Alert, Notification, OutboxEvent, StaffUser
from tests.helpers import auth, make_staff
from tests.integrations.test_webhooks import client_token, transferred_alert


async def escalate(context: AppContext) -> int:
    return await escalate_overdue(context)


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


async def test_an_unacknowledged_hand_off_reaches_a_supervisor_already_told_much_of_the_alert(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await make_staff(context, "supervisor.pusat", "supervisor", "central")
    alert_id = await transferred_alert(client, context)
    async with context.sessions() as session:
        supervisor = await session.scalar(
            select(StaffUser.id).where(StaffUser.username == "supervisor.pusat")
        )
    assert supervisor is not None
    dispatch = context.settings.dispatch
    # The ladder has told this supervisor of the alert's escalations and its transfer: as many
    # messages as the per-alert limit allows in a window, which would hold back a routine one.
    async with context.sessions() as session, session.begin():
        for n in range(dispatch.notify_per_alert_person):
            await notify.queue(
                session,
                recipients=[supervisor],
                kind="escalation",
                text=f"Sigap: escalated ({n}).",
                alert_id=alert_id,
                ref=str(n),
                now=context.clock.now(),
                settings=dispatch,
            )
    context.clock.advance(context.settings.integrations.handoff_ack_s + 1)  # type: ignore[attr-defined]
    assert context.settings.integrations.handoff_ack_s + 1 < dispatch.notify_window_s
    assert await escalate(context) == 1
    async with context.sessions() as session:
        status = await session.scalar(
            select(Notification.status).where(Notification.kind == "handoff_unacknowledged")
        )
    assert status == "queued"  # "phone 112 now" is never held back by the per-alert limit


async def test_a_hand_off_overdue_for_days_still_escalates_after_an_outage(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """The check once looked back one day: a longer outage left such hand-offs silent."""
    await make_staff(context, "supervisor.pusat", "supervisor", "central")
    alert_id = await transferred_alert(client, context)
    context.clock.advance(3 * 86400)  # type: ignore[attr-defined]
    assert await escalate_overdue(context) == 1
    assert await escalate_overdue(context) == 0  # once
    async with context.sessions() as session:
        told = list(
            await session.scalars(
                select(OutboxEvent.alert_id).where(OutboxEvent.event_type == UNACKNOWLEDGED)
            )
        )
    assert told == [alert_id]


async def test_a_closed_hand_off_is_not_escalated(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """Resolved or cancelled, the emergency is over (and a cancelled alert's events, the
    escalation included, are purged after a while: it must not be escalated again then)."""
    await make_staff(context, "supervisor.pusat", "supervisor", "central")
    resolved = await transferred_alert(client, context)
    cancelled = await transferred_alert(client, context)
    now = context.clock.now()
    async with context.sessions() as session:
        for alert_id, state, column in (
            (resolved, "resolved", "resolved_at"),
            (cancelled, "cancelled", "cancelled_at"),
        ):
            alert = await session.get(Alert, alert_id)
            assert alert is not None
            alert.state = state
            setattr(alert, column, now)
        await session.commit()
    context.clock.advance(context.settings.integrations.handoff_ack_s + 1)  # type: ignore[attr-defined]
    assert await escalate_overdue(context) == 0

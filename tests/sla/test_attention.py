"""Attention items: the server flags what needs a supervisor and keeps it open until a
supervisor acknowledges it (audited) or the alert closes; the board reads them after a reload."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from app.context import AppContext
from app.models import Alert, AttentionItem, AuditEntry, OutboxEvent
from app.sla import monitor
from tests.dispatch.staffing import drain, legs
from tests.helpers import auth, press, press_body, register, staff_token


async def exhausted_alert(client: httpx.AsyncClient, context: AppContext) -> str:
    """A press nobody answers: the empty central desk hands it to 112 at once, its offer
    expires, and the acknowledgement clock breaches."""
    _, credential = await register(client)
    response = await press(client, credential, press_body(context))
    alert_id: str = response.json()["id"]
    await drain(context)
    context.clock.advance(max(context.settings.dispatch.ack_timeout_s.values()) + 1)  # type: ignore[attr-defined]
    await drain(context)
    await monitor.run_cycle(context)
    return alert_id


async def open_list(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/attention", headers=auth(token))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_an_exhausted_ladder_with_an_unconfirmed_hand_off_is_flagged_and_ranked_first(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    supervisor = await staff_token(client, context, "supervisor.pusat", "supervisor", "central")
    alert_id = await exhausted_alert(client, context)
    assert all(leg.status not in ("offered", "accepted") for leg in await legs(context, alert_id))

    items = await open_list(client, supervisor)
    kinds = {item["kind"] for item in items if item["alert_id"] == alert_id}
    assert {"unheld", "handoff_unconfirmed", "ladder_exhausted", "sla_breached"} <= kinds
    ranks = {item["kind"]: item["rank"] for item in items}
    assert ranks["unheld"] > ranks["handoff_unconfirmed"] > ranks["ladder_exhausted"]
    assert ranks["ladder_exhausted"] > ranks["sla_breached"]
    breach = next(item for item in items if item["kind"] == "sla_breached")
    assert "acknowledgement" in breach["detail"]["clocks"]
    assert all(item["case_code"].startswith("SGP-") for item in items)

    # The monitor passing again raises nothing twice.
    await monitor.run_cycle(context)
    assert len(await open_list(client, supervisor)) == len(items)
    async with context.sessions() as session:
        raised = (
            await session.scalars(
                select(OutboxEvent.payload).where(OutboxEvent.event_type == "attention.raised")
            )
        ).all()
    assert sorted(p["kind"] for p in raised) == sorted(item["kind"] for item in items)


async def test_an_acknowledged_item_leaves_the_list_audited_and_is_not_raised_again(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    supervisor = await staff_token(client, context, "supervisor.pusat", "supervisor", "central")
    alert_id = await exhausted_alert(client, context)
    items = await open_list(client, supervisor)
    target = next(item for item in items if item["kind"] == "ladder_exhausted")

    done = await client.post(f"/v1/attention/{target['id']}/acknowledge", headers=auth(supervisor))
    assert done.status_code == 200, done.text
    assert done.json()["clear_reason"] == "acknowledged"
    assert target["id"] not in {item["id"] for item in await open_list(client, supervisor)}
    again = await client.post(f"/v1/attention/{target['id']}/acknowledge", headers=auth(supervisor))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    unknown = await client.post(
        f"/v1/attention/{uuid.uuid4()}/acknowledge", headers=auth(supervisor)
    )
    assert unknown.status_code == 404

    # Its condition still holds, yet the next pass does not raise it again.
    async with context.sessions() as session:
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "attention.acknowledged")
        )
        cleared = await session.scalar(
            select(OutboxEvent.payload).where(OutboxEvent.event_type == "attention.cleared")
        )
        alert = await session.get(Alert, uuid.UUID(alert_id))
        assert alert is not None
        alert.sla_dirty = True
        await session.commit()
    assert audit is not None and audit.detail["kind"] == "ladder_exhausted"
    assert cleared is not None and cleared["reason"] == "acknowledged"
    await monitor.run_cycle(context)
    assert "ladder_exhausted" not in {item["kind"] for item in await open_list(client, supervisor)}


async def test_resolving_the_alert_clears_its_items(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    supervisor = await staff_token(client, context, "supervisor.pusat", "supervisor", "central")
    alert_id = await exhausted_alert(client, context)
    assert await open_list(client, supervisor)
    # Closed (as the state machine stamps it; who may close is not this test's matter).
    async with context.sessions() as session:
        alert = await session.get(Alert, uuid.UUID(alert_id))
        assert alert is not None
        alert.state, alert.resolved_at = "resolved", context.clock.now()
        alert.sla_dirty = True
        await session.commit()
    await monitor.run_cycle(context)
    assert await open_list(client, supervisor) == []
    async with context.sessions() as session:
        reasons = (
            await session.scalars(
                select(AttentionItem.clear_reason).where(
                    AttentionItem.alert_id == uuid.UUID(alert_id)
                )
            )
        ).all()
    assert set(reasons) == {"alert_closed"}


async def test_only_supervisors_and_admins_list_attention_items(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    counselor = await staff_token(client, context, "konselor.kb", "counselor", "3171060")
    response = await client.get("/v1/attention", headers=auth(counselor))
    assert response.status_code == 403


def test_attention_events_reach_supervisors_and_admins_only() -> None:
    from datetime import UTC, datetime

    from app.realtime.scopes import AlertFacts, Audience, LegSight, StreamEvent, message_for

    at = datetime(2026, 12, 7, tzinfo=UTC)
    unit = uuid.uuid4()
    facts = AlertFacts(
        device_id=uuid.uuid4(),
        device_closed_seq=None,
        legs=(LegSight(unit_id=unit, offered_at=at, closed_at=None, status="offered"),),
    )
    event = StreamEvent(
        seq=1,
        event="attention.raised",
        at=at,
        alert_id=uuid.uuid4(),
        data={"item_id": "x", "kind": "duress", "rank": 60, "detail": {}, "case_code": "SGP-1"},
    )
    for role in ("supervisor", "admin"):
        assert message_for(Audience(kind="staff", role=role), event, facts) is not None
    for role in ("counselor", "paralegal", "transit_staff"):
        audience = Audience(kind="staff", role=role, unit_id=unit, unit_code="3171060")
        assert message_for(audience, event, facts) is None
    # The same audience sees the alert's own events: only attention items are withheld.
    seen = StreamEvent(seq=2, event="alert.escalated", at=at, alert_id=event.alert_id, data={})
    counselor = Audience(kind="staff", role="counselor", unit_id=unit, unit_code="3171060")
    assert message_for(counselor, seen, facts) is not None


def test_a_drill_raises_no_attention_item() -> None:
    from app.sla.attention import AlertAttention, assess

    alert = Alert(
        state="routed",
        is_drill=True,
        routed_at=None,
        transferred_at=None,
        duress=True,
        press_count=3,
        dispatch_step=0,
    )
    facts = AlertAttention(open_legs=0, breached=("acknowledgement",), confirmed_112=False)
    assert assess(alert, facts) == []
    alert.is_drill = False
    assert {flag.kind for flag in assess(alert, facts)} == {
        "sla_breached",
        "duress",
        "repeat_press",
    }

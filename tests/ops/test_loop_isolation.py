"""One bad item does not stop the 112 hand-off check, the retention purge or the dispatcher:
the others proceed, and the bad one is counted, logged and listed in /readyz (as the SLA
monitor's is, tests/ops/test_safety_nets.py)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.clock import FrozenClock
from app.context import AppContext
from app.dispatch import worker
from app.integrations import handoff
from app.models import Alert, Assignment, DispatchTask, OutboxEvent
from app.policy import retention
from tests.dispatch.staffing import drain, on_duty
from tests.helpers import OPS, auth, make_staff, press, press_body, register, staff_token
from tests.integrations.test_webhooks import transferred_alert

KB = "3171060"


def set_aside_total(context: AppContext, loop: str) -> float:
    return float(context.metrics.items_set_aside_total.labels(loop)._value.get())


async def shown_in_readyz(client: httpx.AsyncClient, loop: str) -> list[str]:
    entry = (await client.get("/readyz", headers=OPS)).json()["loops"].get(loop, {})
    return list(entry.get("set_aside", []))


async def test_a_bad_hand_off_is_set_aside_and_the_others_escalate(
    client: httpx.AsyncClient, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_staff(context, "supervisor.pusat", "supervisor", "central")
    ids = [await transferred_alert(client, context) for _ in range(3)]
    assert isinstance(context.clock, FrozenClock)
    context.clock.advance(context.settings.integrations.handoff_ack_s + 1)
    bad = sorted(ids)[0]
    real = handoff.tell_supervisors

    async def failing_for_one(session: Any, ctx: AppContext, alert: Alert, now: Any) -> None:
        if alert.id == bad:
            raise KeyError("no region for this alert")
        await real(session, ctx, alert, now)

    monkeypatch.setattr(handoff, "tell_supervisors", failing_for_one)
    before = set_aside_total(context, "handoffs")

    assert await handoff.escalate_overdue(context) == 2
    async with context.sessions() as session:
        told = set(
            await session.scalars(
                select(OutboxEvent.alert_id).where(OutboxEvent.event_type == handoff.UNACKNOWLEDGED)
            )
        )
    assert told == set(ids) - {bad}
    assert set_aside_total(context, "handoffs") == before + 1
    assert await handoff.escalate_overdue(context) == 0  # left out while set aside
    assert await shown_in_readyz(client, "handoffs") == [str(bad)]

    # Its time up and the cause fixed, it is escalated like the others.
    monkeypatch.setattr(handoff, "tell_supervisors", real)
    context.set_aside["handoffs"][str(bad)] = time.monotonic() - 1
    assert await handoff.escalate_overdue(context) == 1
    assert context.set_aside["handoffs"] == {}


async def test_a_bad_alert_is_set_aside_and_the_others_are_purged(
    client: httpx.AsyncClient, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await staff_token(client, context, "spv", "supervisor", "central")
    ids: list[uuid.UUID] = []
    for _ in range(3):
        _, credential = await register(client)
        pressed = await press(client, credential, press_body(context, is_drill=True))
        alert_id = pressed.json()["id"]
        resolved = await client.post(
            f"/v1/alerts/{alert_id}/resolve",
            json={"disposition": "false_alarm"},
            headers=auth(token),
        )
        assert resolved.status_code == 200, resolved.text
        ids.append(uuid.UUID(alert_id))
    assert isinstance(context.clock, FrozenClock)
    context.clock.advance((context.settings.security.retention_days + 1) * 86400)
    bad = sorted(ids)[0]
    real = retention.purge_alert

    async def failing_for_one(session: Any, alert: Alert, **kw: Any) -> None:
        if alert.id == bad:
            raise ValueError("cannot decrypt")
        await real(session, alert, **kw)

    monkeypatch.setattr(retention, "purge_alert", failing_for_one)
    before = set_aside_total(context, "retention")

    await retention.run_retention(context)
    async with context.sessions() as session:
        purged = set(await session.scalars(select(Alert.id).where(Alert.purged_at.is_not(None))))
    assert purged == set(ids) - {bad}
    assert set_aside_total(context, "retention") == before + 1
    assert await shown_in_readyz(client, "retention") == [str(bad)]
    await retention.run_retention(context)  # left out: not counted again
    assert set_aside_total(context, "retention") == before + 1

    monkeypatch.setattr(retention, "purge_alert", real)
    context.set_aside["retention"][str(bad)] = time.monotonic() - 1
    await retention.run_retention(context)
    async with context.sessions() as session:
        alert = await session.get(Alert, bad)
        assert alert is not None and alert.purged_at is not None
    assert context.set_aside["retention"] == {}


async def test_a_bad_dispatch_task_is_postponed_and_reported_and_the_others_are_routed(
    client: httpx.AsyncClient, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    await on_duty(context, "konselor.kb", KB)
    ids = []
    for _ in range(3):
        _, credential = await register(client)
        ids.append(uuid.UUID((await press(client, credential, press_body(context))).json()["id"]))
    bad = sorted(ids)[0]
    async with context.sessions() as session:
        task_id = await session.scalar(select(DispatchTask.id).where(DispatchTask.alert_id == bad))
    real = worker.run_task

    async def failing_for_one(session: Any, *, alert: Alert, **kw: Any) -> None:
        if alert.id == bad:
            raise KeyError("no SLA target for 'routing'")
        await real(session, alert=alert, **kw)

    monkeypatch.setattr(worker, "run_task", failing_for_one)
    before = set_aside_total(context, "dispatcher")

    await drain(context)

    async def offered() -> set[uuid.UUID]:
        async with context.sessions() as session:
            return set(await session.scalars(select(Assignment.alert_id)))

    assert await offered() == set(ids) - {bad}
    assert set_aside_total(context, "dispatcher") == before + 1
    assert await shown_in_readyz(client, "dispatcher") == [str(task_id)]
    async with context.sessions() as session:
        task = await session.get(DispatchTask, task_id)
        assert task is not None  # never dropped: it may be a victim's only routing
        # Retried as before: postponed with back-off, not left out for ops.set_aside_s.
        assert task.attempts == 1
        assert task.due_at == context.clock.now() + timedelta(seconds=2)

    monkeypatch.setattr(worker, "run_task", real)
    assert isinstance(context.clock, FrozenClock)
    context.clock.advance(3)
    await drain(context)
    assert await offered() == set(ids)
    assert context.set_aside["dispatcher"] == {}  # it succeeded: no longer reported
    assert await shown_in_readyz(client, "dispatcher") == []

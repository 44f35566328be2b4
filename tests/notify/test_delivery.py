"""Delivery: claim -> send with nothing held -> record, on the real database.

A slow gateway must not hold presses up; a sender killed mid-send is retried under the same id;
the critical budget holds when routine messages have spent theirs; critical messages to one
person are coalesced; days are Jakarta's; a spent budget is itself an alert."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlalchemy import select, update

from app.clock import FrozenClock
from app.config import DispatchSettings
from app.context import AppContext
from app.models import Notification, NotificationBudget, OutboxEvent, StaffUser
from app.notify import RecordingProvider, build_providers, deliver_due, queue
from tests.dispatch.staffing import drain, on_duty
from tests.helpers import press, press_body, register

KB = "3171060"


class SlowGateway:
    """A gateway whose answer waits until the test releases it."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.received: list[dict[str, Any]] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(json.loads(request.content))
        self.entered.set()
        await self.release.wait()
        return httpx.Response(202)


def settings_of(context: AppContext, **changes: Any) -> DispatchSettings:
    return context.settings.dispatch.model_copy(update=changes)


def http_providers(gateway: SlowGateway) -> list[Any]:
    settings = DispatchSettings(
        notify_providers=["http"], notify_http_url="https://gateway.example/send"
    )
    return list(build_providers(settings, transport=httpx.MockTransport(gateway)))


async def with_phone(context: AppContext, person: uuid.UUID) -> None:
    async with context.sessions() as session, session.begin():
        await session.execute(
            update(StaffUser).where(StaffUser.id == person).values(phone="+62 812-0000-0001")
        )


async def queue_for(
    context: AppContext, people: list[uuid.UUID], kind: str, ref: str, text: str | None = None
) -> None:
    async with context.sessions() as session, session.begin():
        await queue(
            session,
            recipients=people,
            kind=kind,
            text=text or f"Sigap SGP-{ref}: {kind}.",
            alert_id=None,
            ref=ref,
            now=context.clock.now(),
            settings=context.settings.dispatch,
        )


async def rows(context: AppContext) -> list[Notification]:
    async with context.sessions() as session:
        return list(
            (await session.scalars(select(Notification).order_by(Notification.dedupe_key))).all()
        )


def sent_to(context: AppContext) -> RecordingProvider:
    recorder = context.notifiers[0]
    assert isinstance(recorder, RecordingProvider)
    return recorder


def cap_metric(context: AppContext, pool: str) -> float:
    value = context.metrics.registry.get_sample_value(
        "sigap_notification_cap_reached_total", {"pool": pool}
    )
    return value or 0.0


async def test_presses_complete_while_a_gateway_call_is_in_flight(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    person = await on_duty(context, "konselor.kb", KB)
    await with_phone(context, person)
    _, credential = await register(client)
    await press(client, credential, press_body(context))
    await drain(context)  # the offer to KB queues a message to the counselor
    gateway = SlowGateway()
    sending = asyncio.create_task(deliver_due(context, providers=http_providers(gateway)))
    async with asyncio.timeout(30):
        await gateway.entered.wait()
    try:
        # The gateway has the message and has not answered. On SQLite a transaction held
        # across this call would be BEGIN IMMEDIATE: these presses would wait on its lock.
        for _ in range(3):
            answer = await press(client, credential, press_body(context))
            assert answer.status_code in (200, 201), answer.text
        assert context.engine.sync_engine.pool.checkedout() == 0  # nothing held
        (claimed,) = await rows(context)
        assert (claimed.status, claimed.attempts) == ("sending", 1)  # the claim is committed
        assert not sending.done()
    finally:
        gateway.release.set()
    assert await sending == 1
    (row,) = await rows(context)
    assert (row.status, row.channel, row.claimed_until) == ("sent", "http", None)
    assert gateway.received[0]["id"] == str(row.id)


async def test_a_sender_killed_mid_send_is_retried_under_the_same_id(
    context: AppContext, clock: FrozenClock
) -> None:
    person = await on_duty(context, "konselor.kb", KB)
    await with_phone(context, person)
    await queue_for(context, [person], "offer", "1")
    stuck = SlowGateway()
    sending = asyncio.create_task(deliver_due(context, providers=http_providers(stuck)))
    async with asyncio.timeout(30):
        await stuck.entered.wait()
    sending.cancel()  # the process dies while the gateway has the message
    await asyncio.gather(sending, return_exceptions=True)
    (row,) = await rows(context)
    assert row.status == "sending" and row.claimed_until is not None
    retry = SlowGateway()
    retry.release.set()
    assert await deliver_due(context, providers=http_providers(retry)) == 0  # lease still runs
    assert retry.received == []
    clock.advance(context.settings.dispatch.notify_claim_lease_s + 1)
    assert await deliver_due(context, providers=http_providers(retry)) == 1
    assert retry.received[0]["id"] == stuck.received[0]["id"] == str(row.id)
    (row,) = await rows(context)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_critical_messages_keep_their_budget_when_routine_ones_spent_theirs(
    context: AppContext,
) -> None:
    counselors = [await on_duty(context, f"konselor.{n}", KB) for n in range(3)]
    supervisor = await on_duty(context, "supervisor", "central", role="supervisor")
    await queue_for(context, counselors, "offer", "1")
    await queue_for(context, [supervisor], "escalation", "2")
    settings = settings_of(context, notify_daily_cap=1, notify_critical_daily_cap=5)
    assert await deliver_due(context, settings=settings) == 2
    by_kind = sorted((r.kind, r.status) for r in await rows(context))
    assert by_kind == [
        ("escalation", "sent"),
        ("notify_capped", "queued"),  # held: the supervisor just had a critical message
        ("offer", "sent"),
        ("offer", "suppressed"),
        ("offer", "suppressed"),
    ]
    assert sorted(m.kind for m in sent_to(context).sent) == ["escalation", "offer"]


async def test_critical_messages_to_one_person_are_coalesced_into_one_digest_per_window(
    context: AppContext, clock: FrozenClock
) -> None:
    supervisor = await on_duty(context, "supervisor", "central", role="supervisor")
    await queue_for(context, [supervisor], "escalation", "1")
    assert await deliver_due(context) == 1  # the first goes at once
    for ref in ("2", "3", "4"):  # a flood of unanswered alerts
        await queue_for(context, [supervisor], "escalation", ref)
        clock.advance(20)
        assert await deliver_due(context) == 0
    clock.advance(context.settings.dispatch.notify_digest_window_s)
    assert await deliver_due(context) == 1
    first, digest = sent_to(context).sent
    assert first.kind == "escalation" and digest.kind == "digest"
    assert all(f"SGP-{ref}" in digest.text for ref in ("2", "3", "4"))
    assert digest.text.startswith("Sigap: 3 urgent updates:")
    later = [r for r in await rows(context) if r.dedupe_key.split(":")[2] != "1"]
    assert {(r.status, r.digest_id) for r in later} == {("sent", digest.id)}
    assert digest.id == next(r.id for r in later if r.dedupe_key.split(":")[2] == "2")
    async with context.sessions() as session:
        budget = await session.scalar(
            select(NotificationBudget.spent).where(NotificationBudget.pool == "critical")
        )
    assert budget == 2  # four escalations cost two sends


async def test_a_budget_day_is_the_regions_day_not_utcs(
    context: AppContext, clock: FrozenClock
) -> None:
    person = await on_duty(context, "konselor.kb", KB)
    settings = settings_of(context, notify_daily_cap=1)
    clock.set(datetime(2026, 11, 23, 16, 59, 58, tzinfo=UTC))  # 23:59:58 in Jakarta
    await queue_for(context, [person], "offer", "1")
    await queue_for(context, [person], "offer", "2")
    assert await deliver_due(context, settings=settings) == 1  # the second is over the cap
    clock.advance(4)  # 00:00:02 on the 24th in Jakarta; still the 23rd in UTC
    await queue_for(context, [person], "offer", "3")
    assert await deliver_due(context, settings=settings) == 1
    async with context.sessions() as session:
        days = (
            await session.execute(
                select(NotificationBudget.day, NotificationBudget.spent)
                .where(NotificationBudget.pool == "ordinary")
                .order_by(NotificationBudget.day)
            )
        ).all()
    assert [tuple(d) for d in days] == [(date(2026, 11, 23), 1), (date(2026, 11, 24), 1)]


async def test_a_spent_budget_alerts_supervisors_on_the_stream_by_message_and_metric(
    context: AppContext, clock: FrozenClock
) -> None:
    counselors = [await on_duty(context, f"konselor.{n}", KB) for n in range(3)]
    await on_duty(context, "supervisor", "central", role="supervisor")
    settings = settings_of(context, notify_daily_cap=1)
    before = cap_metric(context, "ordinary")
    await queue_for(context, counselors, "offer", "1")
    assert await deliver_due(context, settings=settings) == 1
    assert cap_metric(context, "ordinary") == before + 1
    await queue_for(context, counselors, "offer", "2")  # refused again: no second alert
    assert await deliver_due(context, settings=settings) == 1  # only the supervisor's message
    assert cap_metric(context, "ordinary") == before + 1
    async with context.sessions() as session:
        events = (await session.scalars(select(OutboxEvent))).all()
    assert [(e.event_type, e.payload["pool"], e.payload["timezone"]) for e in events] == [
        ("notification.cap_reached", "ordinary", "Asia/Jakarta")
    ]
    told = [m for m in sent_to(context).sent if m.recipient_username == "supervisor"]
    assert [m.kind for m in told] == ["notify_capped"]
    assert "budget of 1 routine messages is spent" in told[0].text


async def test_a_spent_critical_budget_is_an_event_and_a_metric_with_no_message_to_spend(
    context: AppContext,
) -> None:
    supervisors = [
        await on_duty(context, f"supervisor.{n}", "central", role="supervisor") for n in range(2)
    ]
    before = cap_metric(context, "critical")
    await queue_for(context, supervisors, "sla_breached", "1")
    settings = settings_of(context, notify_critical_daily_cap=1)
    assert await deliver_due(context, settings=settings) == 1
    assert cap_metric(context, "critical") == before + 1
    assert sorted(r.status for r in await rows(context)) == ["sent", "suppressed"]
    async with context.sessions() as session:
        events = (await session.scalars(select(OutboxEvent.event_type))).all()
    assert events == ["notification.cap_reached"]

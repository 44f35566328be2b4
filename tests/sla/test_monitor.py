"""The SLA monitor on the real database with a frozen clock: warnings, breaches, exact
boundaries, exclusions, restarts, and two monitors that never fire twice."""

from __future__ import annotations

import asyncio
import re
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from app.clock import FrozenClock
from app.context import AppContext
from app.main import build_context
from app.models import Notification, OutboxEvent, SlaClock
from app.sla.monitor import run_cycle
from tests.conftest import BACKEND
from tests.dispatch.staffing import drain, legs, on_duty, post, token_on_duty
from tests.helpers import OPS, press, press_body, register

KB = "3171060"


async def clocks(context: AppContext, alert_id: str) -> dict[str, SlaClock]:
    async with context.sessions() as session:
        rows = await session.scalars(
            select(SlaClock).where(SlaClock.alert_id == uuid.UUID(alert_id))
        )
        return {row.clock: row for row in rows.all()}


async def sla_events(context: AppContext, alert_id: str | None = None) -> list[str]:
    async with context.sessions() as session:
        query = select(OutboxEvent).where(OutboxEvent.event_type.like("sla.%"))
        if alert_id:
            query = query.where(OutboxEvent.alert_id == uuid.UUID(alert_id))
        rows = await session.scalars(query.order_by(OutboxEvent.id))
        return [f"{r.event_type}:{r.payload['clock']}" for r in rows.all()]


async def routed_alert(client: httpx.AsyncClient, context: AppContext, **fields: object) -> str:
    _, credential = await register(client)
    alert_id = str((await press(client, credential, press_body(context, **fields))).json()["id"])
    await drain(context)
    await run_cycle(context)
    return alert_id


async def test_acknowledgement_warns_at_45_s_and_breaches_at_60_s_then_tells_the_supervisor(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await on_duty(context, "konselor.kb", KB)
    await on_duty(context, "supervisor", "central", role="supervisor")
    alert_id = await routed_alert(client, context)
    started = await clocks(context, alert_id)
    assert started["routing"].status == "met"
    assert started["acknowledgement"].status == "running"

    clock.advance(44.9)
    await run_cycle(context)
    assert (await clocks(context, alert_id))["acknowledgement"].status == "running"
    clock.advance(0.1)  # 45 s
    await run_cycle(context)
    assert (await clocks(context, alert_id))["acknowledgement"].status == "warning"
    clock.advance(15)  # 60 s: the offer times out too
    await drain(context)
    await run_cycle(context)
    ack = (await clocks(context, alert_id))["acknowledgement"]
    assert (ack.status, ack.breach_cause, ack.breached_at) == ("breached", "timed_out", clock.now())
    await run_cycle(context)  # and again: nothing fires twice
    assert await sla_events(context, alert_id) == [
        "sla.warning:acknowledgement",
        "sla.breached:acknowledgement",
    ]
    async with context.sessions() as session:
        kinds = (await session.scalars(select(Notification.kind))).all()
    assert "sla_breached" in kinds


async def test_acknowledged_exactly_at_the_deadline_is_met(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    alert_id = await routed_alert(client, context)
    offer = next(g for g in await legs(context, alert_id) if g.unit_code == KB)
    clock.advance(60)
    assert (await post(client, f"/v1/assignments/{offer.id}/accept", token)).status_code == 200
    await run_cycle(context)
    found = await clocks(context, alert_id)
    assert found["acknowledgement"].status == "met"
    assert found["first_contact"].status == "running"
    assert found["on_scene"].target_key == "on_scene:post"
    assert "sla.breached:acknowledgement" not in await sla_events(context, alert_id)


async def test_drills_are_measured_apart_and_never_fire(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await on_duty(context, "konselor.kb", KB)
    alert_id = await routed_alert(client, context, is_drill=True)
    clock.advance(120)
    await run_cycle(context)
    ack = (await clocks(context, alert_id))["acknowledgement"]
    assert (ack.status, ack.excluded) == ("breached", True)
    assert await sla_events(context, alert_id) == []


async def test_a_restarted_monitor_picks_up_running_clocks_and_fires_each_once(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock, database_url: str
) -> None:
    from tests.conftest import make_settings

    await on_duty(context, "konselor.kb", KB)
    alert_id = await routed_alert(client, context)
    clock.advance(50)
    await run_cycle(context)  # the first process warns, then "dies"
    fresh = build_context(make_settings(database_url), clock=clock)  # a new process
    try:
        clock.advance(10)
        await run_cycle(fresh)
        await run_cycle(fresh)
        await run_cycle(context)
    finally:
        await fresh.engine.dispose()
    assert await sla_events(context, alert_id) == [
        "sla.warning:acknowledgement",
        "sla.breached:acknowledgement",
    ]


@pytest.mark.skipif(
    BACKEND != "postgresql",
    reason="SQLite lets one writer in at a time, so two monitors cannot run at once there",
)
async def test_two_monitors_at_once_never_fire_twice(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock, database_url: str
) -> None:
    from tests.conftest import make_settings

    await on_duty(context, "konselor.kb", KB)
    ids = [await routed_alert(client, context) for _ in range(30)]
    clock.advance(61)
    other = build_context(make_settings(database_url), clock=clock)
    try:
        await asyncio.gather(run_cycle(context), run_cycle(other), run_cycle(context))
        await asyncio.gather(run_cycle(other), run_cycle(context))
    finally:
        await other.engine.dispose()
    async with context.sessions() as session:
        counts = (
            await session.execute(
                select(OutboxEvent.alert_id, func.count())
                .where(OutboxEvent.event_type == "sla.breached")
                .group_by(OutboxEvent.alert_id)
            )
        ).all()
    assert {str(a) for a, _ in counts} == set(ids)
    assert {n for _, n in counts} == {1}


async def test_a_duress_cancel_keeps_counting(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await on_duty(context, "konselor.kb", KB)
    _, credential = await register(client)
    await client.put(
        "/v1/devices/me/pins",
        headers={"Authorization": f"Bearer {credential}"},
        json={"cancel_pin": "2468", "duress_pin": "1357"},
    )
    alert_id = str((await press(client, credential, press_body(context))).json()["id"])
    await drain(context)
    await client.post(
        f"/v1/alerts/{alert_id}/cancel",
        headers={"Authorization": f"Bearer {credential}"},
        json={"pin": "1357"},
    )
    clock.advance(61)
    await drain(context)
    await run_cycle(context)
    ack = (await clocks(context, alert_id))["acknowledgement"]
    assert (ack.status, ack.excluded) == ("breached", False)
    assert "first_contact" not in await clocks(context, alert_id)  # do not call back


async def test_metrics_show_clocks_breaches_and_the_oldest_unacknowledged_alert(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await on_duty(context, "konselor.kb", KB)
    await routed_alert(client, context)
    clock.advance(90)
    await run_cycle(context)
    text = (await client.get("/metrics", headers=OPS)).text
    assert 'sigap_sla_breaches{clock="acknowledgement"} 1.0' in text
    assert "sigap_oldest_unacknowledged_alert_age_seconds 90.0" in text
    assert 'sigap_alerts{state="routed"} 1.0' in text
    measured = re.search(r'sigap_sla_interval_seconds_count\{clock="routing"\} ([0-9.]+)', text)
    assert measured is not None and float(measured.group(1)) >= 1  # the registry is per process

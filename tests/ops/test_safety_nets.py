"""Safety nets that speak up: one bad alert is set aside while its batch proceeds, and a loop
that stalls shows in /readyz and /metrics and pages the supervisor on duty, once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.context import AppContext
from app.loops import note_error
from app.models import Alert, Notification
from app.sla import monitor
from app.watchdog import check
from tests.dispatch.staffing import drain, on_duty
from tests.helpers import OPS, press, press_body, register

KB = "3171060"


async def pressed(client: httpx.AsyncClient, context: AppContext) -> uuid.UUID:
    _, credential = await register(client)
    response = await press(client, credential, press_body(context))
    return uuid.UUID(response.json()["id"])


async def dirty(context: AppContext) -> set[uuid.UUID]:
    async with context.sessions() as session:
        return set((await session.scalars(select(Alert.id).where(Alert.sla_dirty))).all())


async def test_one_bad_alert_is_set_aside_and_the_rest_of_its_batch_is_synced(
    client: httpx.AsyncClient, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    await on_duty(context, "konselor.kb", KB)
    ids = [await pressed(client, context) for _ in range(4)]
    await drain(context)
    # The dispatcher starts the clocks it stamps itself; mark the four for the monitor again, as
    # a claim or a progress step would.
    async with context.sessions() as session, session.begin():
        await session.execute(update(Alert).where(Alert.id.in_(ids)).values(sla_dirty=True))
    bad = sorted(ids)[0]  # first in index order: it used to sink its whole batch every cycle
    real = monitor.sync_alerts

    async def failing_for_one(session: Any, alerts: Sequence[Alert], **kw: Any) -> Any:
        if any(a.id == bad for a in alerts):
            raise KeyError("no SLA target for 'routing'")
        return await real(session, alerts, **kw)

    monkeypatch.setattr(monitor, "sync_alerts", failing_for_one)
    before = context.metrics.items_set_aside_total.labels("sla-monitor")._value.get()

    assert await monitor.run_cycle(context) == 3
    assert await dirty(context) == {bad}
    assert str(bad) in context.set_aside["sla-monitor"]
    after = context.metrics.items_set_aside_total.labels("sla-monitor")._value.get()
    assert after == before + 1
    # Set aside: the next cycles leave it out instead of failing on it again.
    assert await monitor.run_cycle(context) == 0
    assert context.metrics.items_set_aside_total.labels("sla-monitor")._value.get() == after

    readyz = (await client.get("/readyz", headers=OPS)).json()
    assert readyz["loops"]["sla-monitor"]["set_aside"] == [str(bad)]
    assert readyz["loops"]["sla-monitor"]["set_aside_count"] == 1

    # Its time up and the cause fixed, it is synced like the others.
    monkeypatch.setattr(monitor, "sync_alerts", real)
    context.set_aside["sla-monitor"][str(bad)] = time.monotonic() - 1
    assert await monitor.run_cycle(context) == 1
    assert await dirty(context) == set()
    assert context.set_aside["sla-monitor"] == {}


async def test_a_stalled_loop_shows_in_readyz_and_metrics_and_pages_the_supervisor_once(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    supervisor = await on_duty(context, "supervisor", "central", role="supervisor")
    ops = context.settings.ops
    context.loop_heartbeats["sla-monitor"] = time.monotonic()
    context.loop_heartbeats["dispatcher"] = time.monotonic()
    paged: dict[str, float] = {}
    assert await check(context, paged) == []

    # Stalled (older than its threshold), not yet for loop_page_after_s: shown, not paged.
    context.loop_heartbeats["sla-monitor"] = time.monotonic() - ops.stall_after("sla-monitor") - 1
    note_error(context, "sla-monitor", KeyError("no SLA target"))
    assert await check(context, paged) == []
    readyz = (await client.get("/readyz", headers=OPS)).json()
    assert readyz["status"] == "ready"  # intake stays in the load balancer
    assert readyz["loops"]["sla-monitor"]["stalled"] is True
    assert readyz["loops"]["sla-monitor"]["last_error"] == "KeyError: 'no SLA target'"
    assert "last_error" not in readyz["loops"]["dispatcher"]
    assert readyz["loops"]["dispatcher"]["stalled"] is False
    metrics = (await client.get("/metrics", headers=OPS)).text
    assert 'sigap_background_loop_stalled{loop="sla-monitor"} 1.0' in metrics
    assert 'sigap_background_loop_stalled{loop="dispatcher"} 0.0' in metrics
    assert 'sigap_background_loop_last_success_timestamp_seconds{loop="sla-monitor"}' in metrics

    # Stalled for loop_page_after_s more: the supervisor on duty is paged, once.
    stalled_for = ops.stall_after("sla-monitor") + ops.loop_page_after_s + 1
    context.loop_heartbeats["sla-monitor"] = time.monotonic() - stalled_for
    assert await check(context, paged) == ["sla-monitor"]
    assert await check(context, paged) == []
    async with context.sessions() as session:
        pages = (
            await session.scalars(select(Notification).where(Notification.kind == "loop_stalled"))
        ).all()
    assert [(p.recipient_id, p.status) for p in pages] == [(supervisor, "queued")]
    assert "sla-monitor" in pages[0].text

    # Recovered (its error no longer shown), then stalled again: a new page.
    context.loop_heartbeats["sla-monitor"] = time.monotonic()
    assert await check(context, paged) == []
    assert (
        "last_error"
        not in (await client.get("/readyz", headers=OPS)).json()["loops"]["sla-monitor"]
    )
    context.loop_heartbeats["sla-monitor"] = time.monotonic() - stalled_for - 5
    assert await check(context, paged) == ["sla-monitor"]

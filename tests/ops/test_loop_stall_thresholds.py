"""A healthy background loop is never called stalled: every loop's stall threshold exceeds the
longest it waits between two beats, whatever its configured interval.

Before issue 22 the hourly retention loop used the 60 s default threshold: three minutes after
every start (60 s, then ``loop_page_after_s``) it paged the supervisors about a false stall.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from app.config import Settings
from app.context import AppContext
from app.loops import loop_periods, stall_after
from app.main import create_app
from app.watchdog import check, loop_report


def slowest(settings: Settings) -> Settings:
    """Every configurable interval at the largest value its setting allows."""
    slow = settings.model_copy(deep=True)
    slow.security.audit_seal_interval_s = 30
    slow.integrations.handoff_check_s = 30
    slow.dispatch.poll_interval_s = 300
    slow.sla.monitor_interval_s = 300
    slow.realtime.relay_poll_s = 60
    slow.realtime.hub_poll_s = 300
    slow.realtime.presence_flush_s = 60
    slow.realtime.listener_heartbeat_s = 60
    return slow


async def test_every_loop_the_server_starts_has_a_known_period(context: AppContext) -> None:
    app = create_app(context=context, run_loops=True)
    expected = set(loop_periods(context.settings)) - {"listener"}  # PostgreSQL only
    async with app.router.lifespan_context(app):
        async with asyncio.timeout(60):  # a bound against a hang, not a timing
            while not expected <= set(context.loop_heartbeats):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        started = set(context.loop_heartbeats)
    unknown = started - set(loop_periods(context.settings))
    assert not unknown, f"loops without a period in app.loops.loop_periods: {unknown}"


@pytest.mark.parametrize("which", ["defaults", "slowest"])
def test_every_stall_threshold_exceeds_its_loops_period(context: AppContext, which: str) -> None:
    settings = context.settings if which == "defaults" else slowest(context.settings)
    for loop, period in loop_periods(settings).items():
        assert stall_after(settings, loop) > period, loop


def test_a_configured_threshold_above_the_floor_is_kept(context: AppContext) -> None:
    settings = context.settings.model_copy(deep=True)
    settings.ops.loop_stall_after_s["retention"] = 5 * 3600
    assert stall_after(settings, "retention") == 5 * 3600
    assert stall_after(settings, "relay") == max(60.0, 2 * settings.realtime.relay_poll_s)


async def test_the_retention_loop_is_not_stalled_between_its_hourly_cycles(
    context: AppContext,
) -> None:
    # Ten minutes after its cycle: long past the old 60 s threshold and its 120 s page delay.
    context.loop_heartbeats["retention"] = time.monotonic() - 600
    paged: dict[str, float] = {}
    assert await check(context, paged) == []
    assert loop_report(context)["retention"]["stalled"] is False
    # A retention loop that really missed a cycle is still stalled.
    late = replace(context, loop_heartbeats={"retention": time.monotonic() - 3 * 3600})
    assert loop_report(late)["retention"]["stalled"] is True

"""The SLA monitor: a loop in every server process that keeps clocks in step with their alerts
and fires warnings and breaches on time.

Each cycle takes alerts whose timestamps changed (``alert.sla_dirty``) and alerts with a clock due
(``sla_clock.next_at`` passed), locks them with ``FOR UPDATE SKIP LOCKED`` (two monitors never
hold the same alert) and syncs them, a batch per transaction. Clocks are rows, so a restarted or
another process carries on where one stopped; ``warned_at``/``breached_at`` are written once, so
nothing fires twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import datetime

from sqlalchemy import func, select

from app.context import AppContext
from app.models import Alert, SlaClock
from app.sla.clocks import OPEN_STATUSES, sync_alerts

log = logging.getLogger("sigap.sla")
LOOP_NAME = "sla-monitor"
BATCH = 200


async def due_alerts(context: AppContext, now: datetime, limit: int) -> list[uuid.UUID]:
    async with context.sessions() as session:
        dirty = (
            await session.scalars(select(Alert.id).where(Alert.sla_dirty.is_(True)).limit(limit))
        ).all()
        due = (
            await session.scalars(
                select(SlaClock.alert_id)
                .where(SlaClock.status.in_(OPEN_STATUSES), SlaClock.next_at <= now)
                .group_by(SlaClock.alert_id)
                .order_by(func.min(SlaClock.next_at))
                .limit(limit)
            )
        ).all()
    return list(dict.fromkeys([*dirty, *due]))


async def run_cycle(context: AppContext, *, limit: int = 1000) -> int:
    """Sync every dirty or due alert now; returns how many were synced."""
    now = context.clock.now()
    candidates = await due_alerts(context, now, limit)
    synced = 0
    for start in range(0, len(candidates), BATCH):
        ids = candidates[start : start + BATCH]
        async with context.sessions() as session, session.begin():
            alerts = (
                await session.scalars(
                    select(Alert)
                    .where(Alert.id.in_(ids))
                    .order_by(Alert.id)
                    .with_for_update(skip_locked=True)
                    .execution_options(populate_existing=True)
                )
            ).all()
            measured = await sync_alerts(
                session,
                alerts,
                sla=context.settings.sla,
                dispatch=context.settings.dispatch,
                now=now,
            )
            synced += len(alerts)
        for clock, seconds in measured:  # committed: now they count
            context.metrics.sla_interval.labels(clock).observe(seconds)
    return synced


async def next_due_in(context: AppContext) -> float | None:
    """Seconds until the next warning or deadline (None: no clock running)."""
    async with context.sessions() as session:
        due = await session.scalar(
            select(func.min(SlaClock.next_at)).where(SlaClock.status.in_(OPEN_STATUSES))
        )
    return None if due is None else (due - context.clock.now()).total_seconds()


COALESCE_S = 0.1
"""After a wake-up by a commit, wait this long so that a burst of commits costs one cycle."""


async def run_monitor(context: AppContext) -> None:
    """Forever: sync what is dirty or due, then sleep until the next warning or deadline, a
    commit that may have changed clocks (woken), or the fallback poll, whichever is first."""
    interval = context.settings.sla.monitor_interval_s
    wake = context.sla_wakeup
    context.loop_heartbeats.setdefault(LOOP_NAME, time.monotonic())
    while True:
        wake.clear()
        try:
            while await run_cycle(context) >= 1000:
                pass
            context.loop_heartbeats[LOOP_NAME] = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("SLA monitor cycle failed; retrying")
        pause = interval
        with contextlib.suppress(Exception):
            due_in = await next_due_in(context)
            if due_in is not None:
                pause = min(interval, max(due_in, 0.01))  # wake for the next deadline on time
        woken = False
        with contextlib.suppress(TimeoutError):
            woken = await asyncio.wait_for(wake.wait(), timeout=pause)
        if woken:
            await asyncio.sleep(COALESCE_S)

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
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import AppContext
from app.isolation import run_isolated, set_aside_now
from app.loops import beat, note_error
from app.models import Alert, SlaClock
from app.sla.clocks import OPEN_STATUSES, sync_alerts
from app.waiting import woken

log = logging.getLogger("sigap.sla")
LOOP_NAME = "sla-monitor"
BATCH = 200


async def due_alerts(
    context: AppContext, now: datetime, limit: int, *, skip: frozenset[uuid.UUID] = frozenset()
) -> list[uuid.UUID]:
    """``skip``: alerts set aside, left out here so they cannot fill the list's ``limit``."""
    async with context.sessions() as session:
        dirty = (
            await session.scalars(
                select(Alert.id)
                .where(Alert.sla_dirty.is_(True), Alert.id.not_in(skip))
                .limit(limit)
            )
        ).all()
        due = (
            await session.scalars(
                select(SlaClock.alert_id)
                .where(
                    SlaClock.status.in_(OPEN_STATUSES),
                    SlaClock.next_at <= now,
                    SlaClock.alert_id.not_in(skip),
                )
                .group_by(SlaClock.alert_id)
                .order_by(func.min(SlaClock.next_at))
                .limit(limit)
            )
        ).all()
    return list(dict.fromkeys([*dirty, *due]))


async def run_cycle(context: AppContext, *, limit: int = 1000) -> int:
    """Sync every dirty or due alert now; returns how many were synced."""
    now = context.clock.now()
    aside = frozenset(uuid.UUID(key) for key in set_aside_now(context, LOOP_NAME))
    candidates = await due_alerts(context, now, limit, skip=aside)
    synced = 0

    async def sync(
        session: AsyncSession, ids: Sequence[uuid.UUID]
    ) -> tuple[int, list[tuple[str, float]]]:
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
            session, alerts, sla=context.settings.sla, dispatch=context.settings.dispatch, now=now
        )
        return len(alerts), list(measured)

    for start in range(0, len(candidates), BATCH):
        ids = candidates[start : start + BATCH]
        # One bad alert is set aside; the rest of its batch is synced (app/isolation.py).
        for count, measured in await run_isolated(context, loop=LOOP_NAME, items=ids, work=sync):
            synced += count
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
            beat(context, LOOP_NAME)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            note_error(context, LOOP_NAME, exc)
            log.exception("SLA monitor cycle failed; retrying")
        pause = interval
        with contextlib.suppress(Exception):
            due_in = await next_due_in(context)
            if due_in is not None:
                pause = min(interval, max(due_in, 0.01))  # wake for the next deadline on time
        if await woken(wake, pause):
            await asyncio.sleep(COALESCE_S)

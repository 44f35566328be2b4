"""The dispatcher loop that runs in every server process, and the notifier's.

Due tasks are taken in batches with their alerts, ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), done,
and deleted in the batch's transaction: several processes share the work and none does a task
twice. A process killed mid-batch leaves only an uncommitted transaction, which PostgreSQL rolls
back when the connection drops, so its tasks are due again at once; a *hung* process loses its
locks after ``db.idle_transaction_timeout_s`` (PostgreSQL's
``idle_in_transaction_session_timeout``). The loop sleeps until a commit queues work (here, or
announced by another process), the next due task, or the long fallback poll, whichever is first.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import AppContext
from app.db import is_outage
from app.dispatch.messages import batch_notifications, queue_batched
from app.dispatch.runtime import Dispatch
from app.dispatch.service import run_task
from app.isolation import forget, set_aside, set_aside_now
from app.loops import note_error
from app.models import Alert, DispatchTask, Notification
from app.notify import deliver_notifications
from app.sla.clocks import sync_alerts
from app.waiting import woken

log = logging.getLogger("sigap.dispatch")
LOOP_NAME = "dispatcher"
NOTIFIER = "notifier"


def dispatch_of(context: AppContext) -> Dispatch:
    return Dispatch(
        settings=context.settings.dispatch,
        presence=context.presence,
        cache=context.dispatch_cache,
        console_url=context.settings.console.public_url,
    )


async def run_due(context: AppContext, *, limit: int | None = None) -> int:
    """Run every task due now (up to ``limit``), many per transaction. Returns how many ran.

    Each transaction takes a batch of due tasks *and their alerts* in one statement with
    ``SKIP LOCKED``: it never waits for a lock, so it cannot deadlock with an API request that
    holds an alert and queues a task; a task whose alert is busy is simply left for the next
    round. Real presses come before drills, whatever their due times: a flood of drills never
    delays a real alert (nothing but ``is_drill``, which the victim's app sets, decides this).
    """
    dispatch = dispatch_of(context)
    budget = limit or context.settings.dispatch.batch_size
    set_aside_now(context, LOOP_NAME)  # forget reports whose time is up (tasks are not skipped)
    done = 0
    while done < budget:
        ran = await _run_batch(context, dispatch, budget - done)
        if ran == 0:
            return done
        done += ran
        context.metrics.dispatch_tasks.inc(ran)
    return done


def _due(now: datetime, limit: int) -> Select[tuple[DispatchTask, Alert]]:
    return (
        select(DispatchTask, Alert)
        .join(Alert, Alert.id == DispatchTask.alert_id)
        .where(DispatchTask.due_at <= now)
        .order_by(Alert.is_drill, DispatchTask.due_at, DispatchTask.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=(DispatchTask, Alert))
        .execution_options(populate_existing=True)
    )


async def _run_batch(context: AppContext, dispatch: Dispatch, limit: int) -> int:
    """One transaction: take up to ``limit`` due tasks (one per alert), do them, write what
    they decided in multi-row statements, start the SLA clocks the new states call for, commit.

    If anything in the batch fails, the batch is rolled back and its tasks are done one by
    one, so a single bad task is postponed (and reported as set aside) without holding up the
    others.
    """
    now = context.clock.now()
    taken: list[int] = []
    measured: list[tuple[str, float]] = []
    try:
        async with context.sessions() as session, session.begin():
            rows = (await session.execute(_due(now, limit))).all()
            if not rows:
                return 0
            batch_notifications(session)
            alerts: dict[uuid.UUID, Alert] = {}
            for task, alert in rows:
                # Two tasks of one alert wait for separate transactions: each reads the legs
                # the one before it wrote.
                if alert.id in alerts:
                    continue
                alerts[alert.id] = alert
                taken.append(task.id)
                await run_task(session, task=task, alert=alert, dispatch=dispatch, now=now)
            measured = await _finish(context, session, dispatch, list(alerts.values()), now)
        _observe(context, measured)  # committed: now they count
        forget(context, LOOP_NAME, taken)
        return len(taken)
    except Exception as exc:
        if not taken:
            raise
        if len(taken) == 1:
            await _failed(context, taken[0], exc)
            return 1
        log.warning("a dispatch batch of %d failed; doing its tasks one by one", len(taken))
    for task_id in taken:
        await _run_one(context, dispatch, task_id)
    return len(taken)


async def _run_one(context: AppContext, dispatch: Dispatch, task_id: int) -> None:
    now = context.clock.now()
    try:
        async with context.sessions() as session, session.begin():
            row = (
                await session.execute(
                    select(DispatchTask, Alert)
                    .join(Alert, Alert.id == DispatchTask.alert_id)
                    .where(DispatchTask.id == task_id)
                    .with_for_update(skip_locked=True, of=(DispatchTask, Alert))
                    .execution_options(populate_existing=True)
                )
            ).first()
            if row is None:
                return  # done by someone else meanwhile, or its alert is busy: next round
            task, alert = row
            batch_notifications(session)
            await run_task(session, task=task, alert=alert, dispatch=dispatch, now=now)
            measured = await _finish(context, session, dispatch, [alert], now)
        _observe(context, measured)
        forget(context, LOOP_NAME, [task_id])
    except Exception as exc:
        await _failed(context, task_id, exc)


async def _failed(context: AppContext, task_id: int, exc: Exception) -> None:
    """A task that failed on its own is reported like any loop's bad item (counted, listed in
    /readyz until it succeeds or ``ops.set_aside_s`` passes) but, unlike them, retried with
    back-off rather than left out. A database outage is no task's fault: only logged."""
    if is_outage(exc):
        log.exception("dispatch task %s failed; it will be retried", task_id)
    else:
        set_aside(context, LOOP_NAME, task_id, retry="postponed with back-off")
    await _postpone(context, task_id)


async def _finish(
    context: AppContext,
    session: AsyncSession,
    dispatch: Dispatch,
    alerts: list[Alert],
    now: datetime,
) -> list[tuple[str, float]]:
    """Queue the batch's messages and bring the clocks of alerts whose stamps changed up to
    date in this same transaction (the SLA monitor then has nothing to catch up on)."""
    await queue_batched(session, dispatch=dispatch, now=now)
    dirty = [alert for alert in alerts if alert.sla_dirty]
    if not dirty:
        return []
    await session.flush()  # the clocks read the legs just written
    return await sync_alerts(
        session, dirty, sla=context.settings.sla, dispatch=context.settings.dispatch, now=now
    )


def _observe(context: AppContext, measured: list[tuple[str, float]]) -> None:
    for clock, seconds in measured:
        context.metrics.sla_interval.labels(clock).observe(seconds)


async def _postpone(context: AppContext, task_id: int) -> None:
    """Back off a failing task (never drop it: it may be a victim's only routing)."""
    async with context.sessions() as session, session.begin():
        task = await session.get(DispatchTask, task_id)
        if task is None:
            return
        task.attempts += 1
        task.due_at = context.clock.now() + timedelta(seconds=min(60, 2**task.attempts))


async def next_due_in(context: AppContext) -> float | None:
    async with context.sessions() as session:
        due = await session.scalar(select(func.min(DispatchTask.due_at)))
    if due is None:
        return None
    return max(0.0, (due - context.clock.now()).total_seconds())


async def run_dispatcher(context: AppContext) -> None:
    """Forever: run due tasks, then sleep until woken (a commit here that queued a task, or
    another process's announcement), the next task's due time, or the long fallback poll,
    whichever comes first. An idle dispatcher asks the database nothing in between."""
    settings = context.settings.dispatch
    wake = context.dispatch_wakeup
    context.loop_heartbeats.setdefault(LOOP_NAME, time.monotonic())
    while True:
        wake.clear()  # before the run: a press committed during it wakes the next wait
        try:
            # Several consumers overlap their database round trips; SQLite serialises writers
            # anyway, so it gets one.
            consumers = 1 if context.settings.is_sqlite else settings.concurrency
            ran = sum(await asyncio.gather(*(run_due(context) for _ in range(consumers))))
            context.loop_heartbeats[LOOP_NAME] = time.monotonic()
            if ran >= settings.batch_size * consumers:
                continue
            pause = settings.poll_interval_s
            due_in = await next_due_in(context)
            if due_in is not None:
                # A due task whose alert was busy is retried soon, but without spinning.
                pause = min(pause, max(due_in, 0.02 if ran == 0 else 0.0))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            note_error(context, LOOP_NAME, exc)
            log.exception("dispatcher cycle failed; retrying")
            pause = min(settings.poll_interval_s, 1.0)
        await woken(wake, pause)


async def next_notification_in(context: AppContext) -> float | None:
    async with context.sessions() as session:
        due = await session.scalar(
            # A ``sending`` row is due again when its lease runs out (``due_at`` is its end).
            select(func.min(Notification.due_at)).where(
                Notification.status.in_(("queued", "sending"))
            )
        )
    if due is None:
        return None
    return max(0.0, (due - context.clock.now()).total_seconds())


async def run_notifier(context: AppContext) -> None:
    """Forever: send what is due, then sleep until a commit queues a message, the next retry
    is due, or the fallback poll (``dispatch.poll_interval_s``)."""
    wake = context.notify_wakeup
    fallback = context.settings.dispatch.poll_interval_s
    context.loop_heartbeats.setdefault(NOTIFIER, time.monotonic())
    while True:
        wake.clear()
        pause = fallback
        try:
            await deliver_notifications(context)
            context.loop_heartbeats[NOTIFIER] = time.monotonic()
            due_in = await next_notification_in(context)
            if due_in is not None:
                pause = min(pause, max(due_in, 0.05))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("notifier cycle failed; retrying")
            pause = min(fallback, 1.0)
        await woken(wake, pause)

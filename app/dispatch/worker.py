"""The dispatcher loop that runs in every server process.

Each due task is taken in its own transaction with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), done,
and deleted in that transaction: several processes share the work and none does a task twice. A
process killed mid-task leaves only an uncommitted transaction, which PostgreSQL rolls back when
the connection drops, so the task is due again at once; a *hung* process loses its lock after
``db.idle_transaction_timeout_s`` (PostgreSQL's ``idle_in_transaction_session_timeout``). The
loop sleeps until the next due task, the poll interval, or a wake-up from a local press,
whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

from sqlalchemy import func, select

from app.context import AppContext
from app.dispatch.ladder import Dispatch
from app.dispatch.service import run_task
from app.loops import note_error
from app.models import Alert, DispatchTask

log = logging.getLogger("sigap.dispatch")
LOOP_NAME = "dispatcher"


def dispatch_of(context: AppContext) -> Dispatch:
    return Dispatch(
        settings=context.settings.dispatch,
        presence=context.presence,
        cache=context.dispatch_cache,
    )


async def run_due(context: AppContext, *, limit: int | None = None) -> int:
    """Run every task due now (up to ``limit``), one transaction each. Returns how many ran.

    Each transaction takes a due task *and its alert* in one statement with ``SKIP LOCKED``: it
    never waits for a lock, so it cannot deadlock with an API request that holds the alert and
    queues a task; a task whose alert is busy is simply left for the next round.
    """
    dispatch = dispatch_of(context)
    budget = limit or context.settings.dispatch.batch_size
    done = 0
    while done < budget:
        now = context.clock.now()
        task_id: int | None = None
        try:
            async with context.sessions() as session, session.begin():
                row = (
                    await session.execute(
                        select(DispatchTask, Alert)
                        .join(Alert, Alert.id == DispatchTask.alert_id)
                        .where(DispatchTask.due_at <= now)
                        .order_by(DispatchTask.due_at, DispatchTask.id)
                        .limit(1)
                        .with_for_update(skip_locked=True, of=(DispatchTask, Alert))
                        .execution_options(populate_existing=True)
                    )
                ).first()
                if row is None:
                    return done
                task, alert = row
                task_id = task.id
                await run_task(session, task=task, alert=alert, dispatch=dispatch, now=now)
        except Exception:
            if task_id is None:
                raise
            log.exception("dispatch task %s failed; it will be retried", task_id)
            await _postpone(context, task_id)
        done += 1
        context.metrics.dispatch_tasks.inc()
    return done


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
    """Forever: run due tasks, then sleep until woken, the next due time or the poll interval."""
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
            pause = settings.poll_interval_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=pause)


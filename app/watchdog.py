"""Each process watches its own background loops, from a task that is not one of them.

Every ``ops.watchdog_interval_s`` the watchdog publishes each loop's heartbeat age, the Unix time
of its last success and whether it is stalled (older than ``app.loops.stall_after``: the configured
``ops.loop_stall_after_s``, never under two of the loop's periods) to the
metrics, so with several workers every worker's loops reach ``/metrics`` whichever worker is
scraped. A loop stalled for ``ops.loop_page_after_s`` more pages the supervisors on duty
(notification kind ``loop_stalled``, critical), once per stall; it is paged again only after it
recovered and stalled anew.

Why each process watches itself: a process knows its own loops exactly, and its watchdog keeps
running when one loop is stuck or failing every cycle (the loops are separate tasks). The page is
queued in the database and sent by any process's notifier. A process too stuck to run its
watchdog at all (a blocked event loop) cannot page; it also stops answering ``/healthz``, and
its last-success timestamps stop moving in ``/metrics``, which is what the monitoring alert
rule (docs/operators.md) watches.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Any

from app.context import AppContext
from app.loops import heartbeat_ages, stall_after
from app.notify import Message, queue_many, supervisors_on_duty

log = logging.getLogger("sigap.watchdog")
SET_ASIDE_SHOWN = 20


def loop_report(context: AppContext) -> dict[str, Any]:
    """What ``/readyz`` says about this process's loops."""
    report: dict[str, Any] = {}
    for name, age in heartbeat_ages(context).items():
        entry: dict[str, Any] = {
            "heartbeat_age_s": round(age, 1),
            "stalled": age > stall_after(context.settings, name),
        }
        failed_at, error = context.loop_errors.get(name, (0.0, ""))
        if error and failed_at >= context.loop_heartbeats.get(name, 0.0):
            entry["last_error"] = error  # no cycle has succeeded since
        aside = context.set_aside.get(name)
        if aside:
            entry["set_aside"] = sorted(aside)[:SET_ASIDE_SHOWN]
            entry["set_aside_count"] = len(aside)
        report[name] = entry
    for name, aside in context.set_aside.items():  # a loop reporting items but no heartbeat
        if aside and name not in report:
            report[name] = {
                "set_aside": sorted(aside)[:SET_ASIDE_SHOWN],
                "set_aside_count": len(aside),
            }
    return report


def publish_loops(context: AppContext) -> None:
    """This process's loops, into its metrics (shared with the other workers' in multiprocess
    mode)."""
    metrics, wall = context.metrics, time.time()
    for name, age in heartbeat_ages(context).items():
        metrics.loop_heartbeat_age.labels(name).set(age)
        metrics.loop_last_success.labels(name).set(wall - age)
        metrics.loop_stalled.labels(name).set(1 if age > stall_after(context.settings, name) else 0)


async def check(context: AppContext, paged: dict[str, float]) -> list[str]:
    """One look: publish, and page about loops stalled long enough (``paged``: loop -> the
    heartbeat age it was paged at, forgotten when it recovers). Returns the loops paged now."""
    publish_loops(context)
    ops = context.settings.ops
    due: list[tuple[str, float]] = []
    for name, age in heartbeat_ages(context).items():
        threshold = stall_after(context.settings, name)
        if age <= threshold:
            paged.pop(name, None)  # recovered: a new stall pages again
        elif age > threshold + ops.loop_page_after_s and name not in paged:
            due.append((name, age))
    if not due:
        return []
    await _page(context, due)
    for name, age in due:
        paged[name] = age
        context.metrics.loop_pages.labels(name).inc()
    return [name for name, _ in due]


async def run_watchdog(context: AppContext) -> None:
    paged: dict[str, float] = {}
    while True:
        try:
            await check(context, paged)
        except asyncio.CancelledError:
            raise
        except Exception:  # the database may be down: try again, the page is still due
            log.exception("watchdog: could not page about a stalled loop; retrying")
        await asyncio.sleep(context.settings.ops.watchdog_interval_s)


async def _page(context: AppContext, due: list[tuple[str, float]]) -> None:
    now = context.clock.now()
    where = f"{socket.gethostname()} pid {os.getpid()}"
    region_code = context.settings.geo.default_region
    async with context.sessions() as session, session.begin():
        recipients = await supervisors_on_duty(
            session,
            region_code=region_code,
            at=now,
        )
        messages = []
        for name, age in due:
            # The stall's start identifies it: one page per stall, however often we look.
            started = int(time.time() - age)
            log.error("background loop %s on %s stalled for %.0f s: paging", name, where, age)
            messages.append(
                Message(
                    recipients=tuple(recipients),
                    kind="loop_stalled",
                    text=(
                        f"Sigap: background loop '{name}' on {where} has not completed a cycle "
                        f"for {age:.0f} s. Alerts may not be routed or timed: check the server."
                    ),
                    alert_id=None,
                    ref=f"{socket.gethostname()[:32]}:{os.getpid()}:{name}:{started}",
                )
            )
        await queue_many(session, messages, now=now, settings=context.settings.dispatch)

"""Periodic background loops with heartbeats.

A loop never dies of an error: it logs, beats only on success, and tries again next period, so
``/readyz`` and ``/metrics`` show a stalled loop (its heartbeat ages) without taking intake down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from app.config import Settings
from app.context import AppContext

log = logging.getLogger("sigap.loops")

GEO_REFRESH_S = 30.0
HOUSEKEEPING_S = 3600.0
RETENTION_S = 3600.0
WEBHOOK_POLL_S = 30.0
"""The webhook loop's fallback poll (``app/integrations/outbound.py``)."""


def loop_periods(settings: Settings) -> dict[str, float]:
    """Per background loop, the longest a healthy one goes between two beats: its period, or
    its fallback poll for the loops that sleep until woken (an idle one still beats once a
    poll). Every loop the server starts is here (``tests/ops/test_loop_stall_thresholds.py``
    starts them all and checks)."""
    realtime, dispatch = settings.realtime, settings.dispatch
    return {
        "geo-refresh": GEO_REFRESH_S,
        "housekeeping": HOUSEKEEPING_S,
        "retention": RETENTION_S,
        "audit-sealer": settings.security.audit_seal_interval_s,
        "handoffs": settings.integrations.handoff_check_s,
        "dispatcher": dispatch.poll_interval_s,
        "notifier": dispatch.poll_interval_s,
        "sla-monitor": settings.sla.monitor_interval_s,
        "webhooks": WEBHOOK_POLL_S,
        "relay": realtime.relay_poll_s,
        "hub": realtime.hub_poll_s,
        "presence": realtime.presence_flush_s,
        # The listener proves itself every heartbeat, and the proof may take a heartbeat.
        "listener": 2 * realtime.listener_heartbeat_s,
    }


STALL_PERIODS = 2.0
"""A loop is stalled when it has missed a whole period beyond its own: one slow cycle is not a
stall."""


def stall_after(settings: Settings, loop: str) -> float:
    """Seconds without a beat after which ``loop`` counts as stalled: the configured threshold
    (``ops.loop_stall_after_s``), never less than two of its periods. A threshold below the
    period called the hourly retention loop stalled a minute after every cycle, and paged the
    supervisors two minutes later."""
    period = loop_periods(settings).get(loop, 0.0)
    return max(settings.ops.stall_after(loop), STALL_PERIODS * period)


LoopBody = Callable[[AppContext], Awaitable[None]]


async def run_periodic(
    context: AppContext, *, name: str, interval_s: float, body: LoopBody
) -> None:
    context.loop_heartbeats.setdefault(name, time.monotonic())
    while True:
        try:
            await body(context)
            beat(context, name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            note_error(context, name, exc)
            log.exception("background loop %s failed; retrying in %.0f s", name, interval_s)
        await asyncio.sleep(interval_s)


def beat(context: AppContext, name: str) -> None:
    """A cycle of this loop completed: its heartbeat is fresh and it has no error any more."""
    context.loop_heartbeats[name] = time.monotonic()
    context.loop_errors.pop(name, None)


def note_error(context: AppContext, name: str, exc: BaseException) -> None:
    """A cycle failed: counted, and shown in /readyz until a cycle succeeds."""
    context.loop_errors[name] = (time.monotonic(), f"{type(exc).__name__}: {exc}"[:300])
    context.metrics.loop_errors.labels(name).inc()


def heartbeat_ages(context: AppContext) -> dict[str, float]:
    now = time.monotonic()
    ages = {name: now - beat for name, beat in context.loop_heartbeats.items()}
    listener = context.broker.heartbeat_age_s
    if listener is not None:
        ages["listener"] = listener  # the LISTEN connection's last successful check
    return ages

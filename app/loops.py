"""Periodic background loops with heartbeats.

A loop never dies of an error: it logs, beats only on success, and tries again next period, so
``/readyz`` and ``/metrics`` show a stalled loop (its heartbeat ages) without taking intake down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from app.context import AppContext

log = logging.getLogger("sigap.loops")

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

"""A background loop ends when cancelled, even if it is woken in the same turn of the event loop.

The server's shutdown cancels its loops and waits for them. With ``asyncio.wait_for`` (Python
3.11, python/cpython#86296) a loop woken at that moment swallowed the cancellation and ran on,
and the shutdown hung for good: a CI run stalled this way, with no error, until its time ran out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from app.context import AppContext
from app.dispatch.worker import run_dispatcher, run_notifier
from app.integrations.outbound import run_webhooks
from app.realtime.presence import PresenceTracker, run_presence_flush
from app.realtime.relay import run_relay
from app.sla.monitor import run_monitor
from app.waiting import woken

Loop = Callable[[AppContext], tuple[Coroutine[Any, Any, None], asyncio.Event]]


def presence(context: AppContext) -> tuple[Coroutine[Any, Any, None], asyncio.Event]:
    tracker = PresenceTracker()
    flush = run_presence_flush(context.sessions, tracker, context.clock, 60, {})
    return flush, tracker.urgent


LOOPS: dict[str, Loop] = {
    "dispatcher": lambda c: (run_dispatcher(c), c.dispatch_wakeup),
    "notifier": lambda c: (run_notifier(c), c.notify_wakeup),
    "sla-monitor": lambda c: (run_monitor(c), c.sla_wakeup),
    "relay": lambda c: (run_relay(c), c.outbox_wakeup),
    "webhooks": lambda c: (run_webhooks(c), c.webhook_wakeup),
    "presence": presence,
}


async def parked_on(event: asyncio.Event, task: asyncio.Task[None]) -> None:
    """Until the loop has finished a cycle and waits on ``event`` (its waiters: no guess at how
    long a cycle takes; a bound only against a hang)."""
    async with asyncio.timeout(30):
        while not event._waiters:  # type: ignore[attr-defined]
            assert not task.done(), task
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("name", list(LOOPS))
async def test_a_loop_woken_as_it_is_cancelled_still_stops(context: AppContext, name: str) -> None:
    body, wake = LOOPS[name](context)
    task = asyncio.create_task(body)
    try:
        await parked_on(wake, task)
        wake.set()
        task.cancel()  # in the same turn: the wait completes as the cancellation arrives
        done, _ = await asyncio.wait({task}, timeout=10)
        assert done, f"the {name} loop swallowed its cancellation and runs on"
        assert task.cancelled()
    finally:
        task.cancel()


async def test_woken_says_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await woken(event, 0.01) is False
    event.set()
    assert await woken(event, 5) is True


async def test_woken_never_loses_a_cancellation() -> None:
    event = asyncio.Event()
    waiter = asyncio.create_task(woken(event, 60))
    await asyncio.sleep(0)
    event.set()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter

"""Waiting with a bound, in a way that a cancellation always ends.

``asyncio.wait_for`` is not used anywhere in ``app`` (ruff bans it): on Python 3.11 it swallows
a cancellation that arrives in the same turn of the event loop as the thing it waits for
completes (python/cpython#86296, fixed by 3.12's rewrite on ``asyncio.timeout``). A background
loop woken at the moment it was cancelled then ran on forever, and the server's shutdown, which
waits for its loops, hung with it. ``asyncio.timeout`` counts cancellations and never loses one.
"""

from __future__ import annotations

import asyncio
import contextlib


async def woken(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until ``event`` is set or ``timeout_s`` passes; True if it was set."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()
        return True
    return False

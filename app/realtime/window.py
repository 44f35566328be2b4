"""The replay window's first position, read at most every few seconds per process.

Every resuming socket needs it (a cursor before it gets ``resync_required``), and it is a range
read over the window's events (``outbox_event (created_at, seq)``): thousands of phones
reconnecting after a network blip must not each repeat it. The boundary moves with the clock,
slowly, and a slightly old value only lets a cursor a few seconds outside the window replay
events that are still kept (retention is far longer than the window), so a short cache is safe.
"""

from __future__ import annotations

import weakref
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.realtime.hub import Hub

TTL_S = 5.0
_cache: weakref.WeakKeyDictionary[Hub, tuple[datetime, int]] = weakref.WeakKeyDictionary()


async def oldest_replayable(hub: Hub, session: AsyncSession, *, now: datetime) -> int:
    """``now``: the application's clock, which moves the window."""
    cached = _cache.get(hub)
    if cached is not None and 0 <= (now - cached[0]).total_seconds() < TTL_S:
        return cached[1]
    oldest = await hub.oldest_replayable(session)
    if oldest <= hub.head:  # a real position: later events cannot lower it, only time can
        _cache[hub] = (now, oldest)
    return oldest

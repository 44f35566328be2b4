"""Everything a request or background task needs, built once per process by ``create_app``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.clock import Clock
from app.config import Settings
from app.dispatch.availability import PresenceSource, RosterOnly, SnapshotCache
from app.geo.runtime import GeoService
from app.notify.providers import NotificationProvider
from app.observability import Metrics
from app.realtime.broker import Broker, LocalBroker
from app.realtime.presence import PresenceTracker
from app.security.fields import KeyRing
from app.security.hashing import SecretHasher
from app.security.tokens import TokenSigner


@dataclass
class AppContext:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    keyring: KeyRing
    hasher: SecretHasher
    signer: TokenSigner
    geo: GeoService
    metrics: Metrics
    notifiers: list[NotificationProvider] = field(default_factory=list)
    presence: PresenceSource = field(default_factory=RosterOnly)
    """Live console presence; rosters alone until the realtime hub provides it."""
    dispatch_cache: SnapshotCache = field(default_factory=SnapshotCache)
    broker: Broker = field(default_factory=LocalBroker)
    presence_tracker: PresenceTracker = field(default_factory=PresenceTracker)
    dispatch_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    """Set after a local commit that queued dispatch work, so routing starts at once."""
    sla_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    notify_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    """Wakes the SLA monitor before its next tick (tests, shutdown). Commits do not: stops are
    stamped exactly, and firing follows deadlines, so a tick is soon enough and much cheaper."""
    outbox_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    """Set after a local commit that wrote events, so the relay numbers them at once."""
    webhook_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when events were numbered (here or, announced, elsewhere): webhooks may be due."""
    loop_heartbeats: dict[str, float] = field(default_factory=dict)
    """Background loop name -> monotonic time of its last beat (shown by /readyz)."""
    loop_errors: dict[str, tuple[float, str]] = field(default_factory=dict)
    """Background loop name -> (monotonic time, error) of its last failed cycle; shown until a
    later heartbeat."""
    set_aside: dict[str, dict[str, float]] = field(default_factory=dict)
    """Background loop name -> items that failed on their own -> monotonic time they are tried
    again (app/isolation.py)."""

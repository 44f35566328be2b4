"""Everything a request or background task needs, built once per process by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.clock import Clock
from app.config import Settings
from app.geo.runtime import GeoService
from app.observability import Metrics
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
    loop_heartbeats: dict[str, float] = field(default_factory=dict)
    """Background loop name -> monotonic time of its last beat (shown by /readyz)."""

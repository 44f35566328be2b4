"""What dispatching works with besides the session: the settings, live presence, and who is on
duty in a region at an instant (read once per transaction: a dispatcher batch of many alerts asks
the database once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import DispatchSettings
from app.dispatch.availability import (
    PresenceSource,
    RegionSnapshot,
    SnapshotCache,
    region_snapshot,
)
from app.dispatch.routing import RoutingPolicy
from app.models import Alert

_SNAPSHOTS = "sigap_region_snapshots"


@dataclass(frozen=True)
class Dispatch:
    """What the ladder needs besides the session: settings and live presence."""

    settings: DispatchSettings
    presence: PresenceSource
    cache: SnapshotCache
    console_url: str = ""
    """The console's public base URL: on-call messages link to ``<it>/console/#/alert/<id>``."""

    @property
    def policy(self) -> RoutingPolicy:
        s = self.settings
        return RoutingPolicy(
            mode=s.policy,
            road_factor=s.road_factor,
            speed_kmh=s.speed_kmh,
            uncertainty_accuracy_m=s.uncertainty_accuracy_m,
            max_plausible_posts=s.max_plausible_posts,
            max_post_attempts=s.max_post_attempts,
            companion_max_extra_s=s.companion_max_extra_s,
        )


async def snapshot_for(
    session: AsyncSession, alert: Alert, dispatch: Dispatch, now: datetime
) -> RegionSnapshot:
    """Who is on duty in the alert's region at ``now``. Read once per transaction and instant:
    a dispatcher batch of many alerts asks the database once, not once per alert."""
    memo: dict[tuple[str, datetime], RegionSnapshot] = session.info.setdefault(_SNAPSHOTS, {})
    key = (alert.region_code, now)
    if key not in memo:
        memo[key] = await region_snapshot(
            session,
            region_code=alert.region_code,
            at=now,
            presence=dispatch.presence,
            cache=dispatch.cache,
        )
    return memo[key]

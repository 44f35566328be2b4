"""Until when a unit sees an alert, judged from the alert's legs alone (pure)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from app.policy.roles import KEEPS_SIGHT_STATUSES, LATE_ACCEPT_GRACE, OPEN_LEG_STATUSES

GRACE_STATUSES = frozenset({"expired", "lapsed"})
"""Closed legs whose unit keeps the alert open for ``LATE_ACCEPT_GRACE`` after the close."""


@dataclass(frozen=True)
class LegSight:
    """What need-to-know reads of a leg (an offer to one unit)."""

    unit_id: uuid.UUID
    offered_at: datetime
    closed_at: datetime | None
    status: str
    unit_code: str | None = None
    accepted_by: uuid.UUID | None = None
    accepted_at: datetime | None = None

    @property
    def sight_until(self) -> datetime | None:
        """What happened after this moment is not shown to the unit through this leg (its close);
        None while the leg keeps sight without end."""
        if self.status in KEEPS_SIGHT_STATUSES or self.closed_at is None:
            return None
        return self.closed_at

    def covers(self, at: datetime) -> bool:
        """Did this leg let its unit see something that happened at ``at``?"""
        if at < self.offered_at:
            return False
        until = self.sight_until
        return until is None or at <= until


@dataclass(frozen=True)
class UnitSight:
    """A unit's sight of one alert."""

    ever_offered: bool
    since: datetime | None = None
    until: datetime | None = None
    """The close of the unit's last leg: what happened later is not shown. None with
    ``ever_offered``: no end (yet)."""
    late_accept: bool = False
    """That last leg expired (or its claim lapsed), so the unit may still come back to it for a
    short grace; a unit that declined, or whose offer was withdrawn or released, has nothing
    left to accept and its sight ends at the close."""

    @property
    def open_until(self) -> datetime | None:
        """The unit may still open the alert (and accept late) until then."""
        if self.until is None:
            return None
        return self.until + LATE_ACCEPT_GRACE if self.late_accept else self.until

    def sees_at(self, now: datetime) -> bool:
        end = self.open_until
        return self.ever_offered and (end is None or now <= end)

    def covers(self, at: datetime) -> bool:
        if not self.ever_offered or self.since is None or at < self.since:
            return False
        return self.until is None or at <= self.until


def unit_sight(legs: Iterable[LegSight], unit_id: uuid.UUID | None) -> UnitSight:
    """Several legs of one unit (offered, expired, offered again) add up: the earliest offer to the
    latest end, and no end while any of them keeps sight."""
    return legs_sight(leg for leg in legs if unit_id is not None and leg.unit_id == unit_id)


def legs_sight(legs: Iterable[LegSight]) -> UnitSight:
    """The sight these legs give together, as ``unit_sight`` adds up one unit's: also a transit
    operator's legs at any of its units, for its integration client's data scope."""
    mine = list(legs)
    if not mine:
        return UnitSight(ever_offered=False)
    since = min(leg.offered_at for leg in mine)
    ends = [leg.sight_until for leg in mine]
    if any(end is None for end in ends):
        return UnitSight(ever_offered=True, since=since)
    last = max(mine, key=lambda leg: leg.closed_at or leg.offered_at)
    return UnitSight(
        ever_offered=True,
        since=since,
        until=max(e for e in ends if e is not None),
        late_accept=last.status in GRACE_STATUSES,
    )


def holds_claim(legs: Iterable[LegSight], unit_id: uuid.UUID | None) -> bool:
    """The unit holds (or held to the end) an accepted leg on the alert."""
    return unit_id is not None and any(
        leg.unit_id == unit_id and leg.status in ("accepted", "completed") for leg in legs
    )


def took_claim(legs: Iterable[LegSight], staff_id: uuid.UUID) -> bool:
    """This person accepted a leg that is (or was, to the end) the alert's claim."""
    return any(
        leg.accepted_by == staff_id and leg.status in ("accepted", "completed") for leg in legs
    )


def claimed_at(legs: Iterable[LegSight], unit_id: uuid.UUID | None) -> datetime | None:
    """When the unit took the claim it holds (or held to the end): its earliest held leg."""
    return _first_accept(leg for leg in legs if unit_id is not None and leg.unit_id == unit_id)


def took_claim_at(legs: Iterable[LegSight], staff_id: uuid.UUID) -> datetime | None:
    """When this person took the claim they hold (or held to the end)."""
    return _first_accept(leg for leg in legs if leg.accepted_by == staff_id)


def _first_accept(legs: Iterable[LegSight]) -> datetime | None:
    times = [
        leg.accepted_at
        for leg in legs
        if leg.status in ("accepted", "completed") and leg.accepted_at is not None
    ]
    return min(times, default=None)


def passed_to(legs: Iterable[LegSight]) -> list[str]:
    """Who has the alert now, for a unit whose sight ended: the holder first, then open offers."""
    ordered = sorted(
        (leg for leg in legs if leg.unit_code and leg.status in (*OPEN_LEG_STATUSES, "completed")),
        key=lambda leg: (leg.status not in ("accepted", "completed"), leg.offered_at),
    )
    seen: list[str] = []
    for leg in ordered:
        if leg.unit_code not in seen:
            seen.append(str(leg.unit_code))
    return seen


def late_accept_open(status: str, closed_at: datetime | None, now: datetime) -> bool:
    """An open offer may be accepted; an expired one still within the grace (the unit still
    sees the alert that long, so its late "accept" is not a click into the void)."""
    if status == "offered":
        return True
    return status == "expired" and closed_at is not None and now <= closed_at + LATE_ACCEPT_GRACE

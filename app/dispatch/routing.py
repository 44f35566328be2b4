"""The pure routing core: which units an alert is offered to, in which order, and why.

In: a ``RoutingInput`` — the located alert, every unit's state at "now" (hours, who is on duty),
the transit partners, the policy and what the escalation ladder already tried. Out: a ``Decision``
— the legs to offer (ladder legs first, then at most one transit leg), every post ranked with why
it was skipped, and the fallback taken, recorded as is. No database, clock or I/O: the caller
resolves rosters, presence, holidays and the geo lookup. Deterministic: ordered by (ETA, code).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import date, datetime
from typing import Any, Literal

from app.dispatch.hours import OpeningHours
from app.geo.distance import haversine_m

UnitKind = Literal["post", "central_desk", "transit_desk"]
LegKind = Literal["post", "transit", "central"]
Policy = Literal["nearest", "jurisdiction"]

SKIP_REASONS = (
    "inactive",
    "closed",
    "holiday",
    "nobody_on_duty",
    "not_in_drills",
    "already_tried",
    "no_coordinates",
)
"""Why a unit was not offered. "holiday": closed now only because of a public holiday;
"closed": outside opening hours."""

_AREA_METHODS = ("inside", "nearest", "outside", "none")
_NO_HOLIDAYS: frozenset[date] = frozenset()


@dataclass(frozen=True)
class Member:
    staff_id: str
    sex: str | None  # "female" | "male" | None


@dataclass(frozen=True)
class UnitState:
    """A unit as routing sees it at one moment; `on_duty` is resolved by the caller."""

    code: str
    kind: UnitKind
    lat: float | None
    lon: float | None
    area_code: str | None  # the kecamatan a post serves (BPS code)
    partner_code: str | None  # transit desks: their operator
    station_uid: str | None  # a station's help desk (a "Pos SAPA"); None = control desk
    hours: OpeningHours
    on_duty: tuple[Member, ...]
    takes_drills: bool
    active: bool


@dataclass(frozen=True)
class PartnerState:
    code: str  # "transjakarta" | "mrt" | "lrt" ...
    control_desk_code: str  # unit code of the operator's control desk
    operating_hours: OpeningHours  # a station help desk is closed while its line does not run


@dataclass(frozen=True)
class StationNear:
    """A station from the geo lookup, nearest first; `at_station` already applies its thresholds."""

    uid: str
    partner_code: str
    distance_m: float
    at_station: bool


@dataclass(frozen=True)
class AlertFacts:
    lat: float | None  # None: no usable location
    lon: float | None
    accuracy_m: float | None
    area_code: str | None
    area_method: str  # "inside" | "nearest" (treated as inside) | "outside" | "none"
    stations: tuple[StationNear, ...] = ()
    transit_partner: str | None = None  # from the phone's transit context, matched to a partner
    transit_station: str | None = None  # station uid from the context, if matched
    is_drill: bool = False
    companion_preference: str | None = None  # "female" | "male" (UU TPKS Art. 26(4))


@dataclass(frozen=True)
class RoutingPolicy:
    mode: Policy = "nearest"
    road_factor: float = 1.4  # straight line -> road distance
    speed_kmh: float = 20.0  # Jakarta urban average
    uncertainty_accuracy_m: float = 250.0  # circles at most this big are never ambiguous
    max_plausible_posts: int = 3  # bound on parallel post legs when uncertain
    max_post_attempts: int = 3  # posts tried on the ladder before the central desk
    companion_max_extra_s: float = 600.0  # extra ETA acceptable to honour the preference

    def __post_init__(self) -> None:
        # A bad configuration must fail at start-up, not turn every ETA into NaN mid-alert.
        if (
            self.mode not in ("nearest", "jurisdiction")
            or not (0 < self.road_factor < math.inf and 0 < self.speed_kmh < math.inf)
            or not (self.uncertainty_accuracy_m >= 0 and self.companion_max_extra_s >= 0)
            or min(self.max_plausible_posts, self.max_post_attempts) < 1
        ):
            raise ValueError(f"invalid routing policy: {self}")


@dataclass(frozen=True)
class RoutingInput:
    alert: AlertFacts
    units: Sequence[UnitState]
    partners: Mapping[str, PartnerState]
    central_code: str
    now_local: datetime  # aware, in the region's time zone
    holidays: AbstractSet[date]
    policy: RoutingPolicy
    attempted: AbstractSet[str] = frozenset()  # unit codes already offered on the ladder
    include_transit: bool = True  # False on escalation steps: the transit leg is offered once
    travel_s: Mapping[str, float] | None = None
    """Unit code -> seconds from a real travel-time source; None, a missing code or an unusable
    (negative, non-finite) value falls back to the straight-line estimate."""


@dataclass(frozen=True)
class Candidate:
    code: str
    distance_m: float | None
    eta_s: float | None
    available: bool
    skip_reason: str | None  # None when available; else one of SKIP_REASONS


@dataclass(frozen=True)
class Leg:
    unit_code: str
    kind: LegKind
    reason: str  # "nearest" | "jurisdiction" | "uncertain" | "companion_preference"
    # | "station_help_desk" | "control_desk" | "fallback"
    eta_s: float | None
    preferred_sex: str | None  # the alert's preference, when someone on duty matches it


@dataclass(frozen=True)
class TransitOutcome:
    partner_code: str
    station_uid: str | None
    source: Literal["context", "location"]
    unit_code: str | None  # the unit offered first, or None when none was available
    considered: tuple[Candidate, ...]  # station help desk (if configured) then control desk
    together: tuple[str, ...] = ()
    """Also offered at once: the control desk beside a staffed station help desk (Pos SAPA).
    The guard at the station and the control room both see it; the first to accept holds it."""


@dataclass(frozen=True)
class Decision:
    policy: Policy
    legs: tuple[Leg, ...]  # ladder legs (post or central) first, then the transit leg
    candidates: tuple[Candidate, ...]  # every post: available by (eta, code), then skipped
    nearest_post: str | None  # nearest available post by ETA (whatever the policy)
    jurisdiction_post: str | None  # the post of alert.area_code (whatever its availability)
    transit: TransitOutcome | None
    fallback: str | None  # "no_location" | "outside_region" | "nobody_available"
    # | "ladder_exhausted" | "no_drill_unit"
    uncertain: bool

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict keyed by field name; distances to the metre, ETAs to the second."""
        result: dict[str, Any] = _json(self)
        return result


def decide(data: RoutingInput) -> Decision:
    """Route one alert, or one escalation step of it (`attempted`, `include_transit=False`)."""
    alert = data.alert
    if alert.area_method not in _AREA_METHODS:
        raise ValueError(f"routing: unknown area_method {alert.area_method!r}")
    if data.now_local.tzinfo is None or data.now_local.utcoffset() is None:
        raise ValueError("routing: now_local must be an aware datetime in the region's zone")
    units = _by_code(data.units)
    origin = _origin(alert)
    posts = [u for u in units.values() if u.kind == "post"]
    candidates = sorted((_candidate(u, data, origin, ladder=True) for u in posts), key=_rank_key)
    available = [c for c in candidates if c.available]
    nearest = available[0].code if available and origin is not None else None
    jurisdiction = None
    if alert.area_method in ("inside", "nearest") and alert.area_code is not None:
        jurisdiction = next(
            (c.code for c in candidates if units[c.code].area_code == alert.area_code), None
        )

    tried = sum(1 for u in posts if u.code in data.attempted)
    if origin is None:
        ladder, fallback = _central(data, units, "no_location")
    elif alert.area_method == "outside":
        ladder, fallback = _central(data, units, "outside_region")
    elif tried >= data.policy.max_post_attempts:
        ladder, fallback = _central(data, units, "ladder_exhausted")
    elif not available:
        ladder, fallback = _central(data, units, "nobody_available")
    else:
        ladder, fallback = _post_legs(data, units, available, jurisdiction), None

    transit = _transit(data, units, origin) if data.include_transit else None
    legs = ladder
    if transit is not None and transit.unit_code is not None:
        if ladder:
            offered = (transit.unit_code, *transit.together)
            legs = (*ladder, *(_transit_leg(units, transit, code, alert) for code in offered))
        else:
            # Never the transit partner alone: with no ladder leg the caller hands off to 112,
            # and the transit outcome records what was available without claiming an offer.
            transit = replace(transit, unit_code=None, together=())
    return Decision(
        policy=data.policy.mode,
        legs=legs,
        candidates=tuple(candidates),
        nearest_post=nearest,
        jurisdiction_post=jurisdiction,
        transit=transit,
        fallback=fallback,
        uncertain=sum(1 for leg in ladder if leg.kind == "post") > 1,
    )


def _by_code(units: Sequence[UnitState]) -> dict[str, UnitState]:
    result: dict[str, UnitState] = {}
    for unit in sorted(units, key=lambda u: u.code):
        if unit.code in result:
            raise ValueError(f"routing: duplicate unit code {unit.code!r}")
        result[unit.code] = unit
    return result


def _origin(alert: AlertFacts) -> tuple[float, float] | None:
    if alert.area_method == "none" or alert.lat is None or alert.lon is None:
        return None
    return alert.lat, alert.lon


def _rank_key(c: Candidate) -> tuple[bool, bool, float, str]:
    # Available first; within each group by ETA then code; no ETA (no coordinates) last.
    return (not c.available, c.eta_s is None, c.eta_s if c.eta_s is not None else 0.0, c.code)


def _eta(c: Candidate) -> float:
    return c.eta_s if c.eta_s is not None else math.inf


def _candidate(
    unit: UnitState,
    data: RoutingInput,
    origin: tuple[float, float] | None,
    *,
    ladder: bool,
    line_hours: OpeningHours | None = None,
) -> Candidate:
    distance = eta = None
    if origin is not None and unit.lat is not None and unit.lon is not None:
        distance = haversine_m(origin[0], origin[1], unit.lat, unit.lon)
        eta = distance * data.policy.road_factor / (data.policy.speed_kmh / 3.6)
        given = data.travel_s.get(unit.code) if data.travel_s is not None else None
        if given is not None and math.isfinite(given) and given >= 0:
            eta = float(given)
    reason = _skip_reason(unit, data, ladder=ladder, line_hours=line_hours)
    return Candidate(unit.code, distance, eta, reason is None, reason)


def _skip_reason(
    unit: UnitState, data: RoutingInput, *, ladder: bool, line_hours: OpeningHours | None
) -> str | None:
    """The first reason `unit` cannot be offered, in the spec's order; None when available."""
    if not unit.active:
        return "inactive"
    if ladder and (unit.lat is None or unit.lon is None):
        return "no_coordinates"
    if ladder and unit.code in data.attempted:
        return "already_tried"
    # A station help desk keeps its own hours *and* its line's: the intersection of the two.
    hours = (unit.hours,) if line_hours is None else (unit.hours, line_hours)
    # A drill reaches a drill-taking unit whatever its hours, so a post can rehearse after
    # hours without changing its real ones; real alerts keep to the hours.
    rehearsal = data.alert.is_drill and unit.takes_drills
    if not rehearsal and not all(h.is_open(data.now_local, data.holidays) for h in hours):
        open_but_for_holidays = all(h.is_open(data.now_local, _NO_HOLIDAYS) for h in hours)
        return "holiday" if open_but_for_holidays else "closed"
    if not unit.on_duty:
        return "nobody_on_duty"
    if data.alert.is_drill and not unit.takes_drills:
        return "not_in_drills"
    return None


def _preferred_sex(unit: UnitState | None, alert: AlertFacts) -> str | None:
    wanted = alert.companion_preference
    if wanted is None or unit is None:
        return None
    return wanted if any(m.sex == wanted for m in unit.on_duty) else None


def _transit_leg(
    units: Mapping[str, UnitState], transit: TransitOutcome, code: str, alert: AlertFacts
) -> Leg:
    chosen = next(c for c in transit.considered if c.code == code)
    unit = units.get(chosen.code)
    reason = "station_help_desk" if unit is not None and unit.station_uid else "control_desk"
    return Leg(chosen.code, "transit", reason, chosen.eta_s, _preferred_sex(unit, alert))


def _central(
    data: RoutingInput, units: Mapping[str, UnitState], fallback: str
) -> tuple[tuple[Leg, ...], str]:
    """The central desk as the ladder leg: the 24/7 last resort, offered even with nobody on
    duty, closed or inactive (the caller handles an empty desk) — except to a drill it does not
    take, or when it was already tried (then no leg: the caller hands off to 112)."""
    if data.central_code in data.attempted:
        return (), "ladder_exhausted"
    desk = units.get(data.central_code)
    if data.alert.is_drill and desk is not None and not desk.takes_drills:
        return (), "no_drill_unit"
    central = Leg(data.central_code, "central", "fallback", None, _preferred_sex(desk, data.alert))
    return (central,), fallback


def _post_legs(
    data: RoutingInput,
    units: Mapping[str, UnitState],
    available: list[Candidate],
    jurisdiction: str | None,
) -> tuple[Leg, ...]:
    """The chosen post, plus the other plausible posts when the location is too vague."""
    alert, policy = data.alert, data.policy
    chosen, reason = available[0], "nearest"
    if policy.mode == "jurisdiction":
        own = next((c for c in available if c.code == jurisdiction), None)
        if own is not None:
            chosen, reason = own, "jurisdiction"

    if alert.companion_preference is not None and _preferred_sex(units[chosen.code], alert) is None:
        match = next((c for c in available if _preferred_sex(units[c.code], alert)), None)
        if match is not None and _eta(match) <= _eta(chosen) + policy.companion_max_extra_s:
            chosen, reason = match, "companion_preference"

    plausible = [chosen]
    accuracy = alert.accuracy_m
    if accuracy is not None and accuracy > policy.uncertainty_accuracy_m:
        # Any post within this straight-line distance could be the nearest to some point of the
        # accuracy circle, so each is offered and the first acceptance wins.
        reach = (chosen.distance_m or 0.0) + 2 * accuracy
        others = [
            c
            for c in available
            if c.code != chosen.code and c.distance_m is not None and c.distance_m <= reach
        ]
        plausible += others[: policy.max_plausible_posts - 1]
    legs = []
    for c in plausible:
        sex = _preferred_sex(units[c.code], alert)
        legs.append(Leg(c.code, "post", reason if c is chosen else "uncertain", c.eta_s, sex))
    return tuple(legs)


def _transit(
    data: RoutingInput, units: Mapping[str, UnitState], origin: tuple[float, float] | None
) -> TransitOutcome | None:
    """The transit partner's unit when the alert is in the transit system; None when it is not
    (or the partner is unknown)."""
    alert = data.alert
    source: Literal["context", "location"]
    if alert.transit_partner is not None:
        partner_code, station, source = alert.transit_partner, alert.transit_station, "context"
    else:
        at = sorted(
            (s for s in alert.stations if s.at_station), key=lambda s: (s.distance_m, s.uid)
        )
        if not at:
            return None
        partner_code, station, source = at[0].partner_code, at[0].uid, "location"
    partner = data.partners.get(partner_code)
    if partner is None:
        return None

    considered: list[Candidate] = []
    if station is not None:
        considered.extend(
            _candidate(u, data, origin, ladder=False, line_hours=partner.operating_hours)
            for u in units.values()
            if u.kind == "transit_desk"
            and u.partner_code == partner_code
            and u.station_uid == station
        )
    control = units.get(partner.control_desk_code)
    if control is None:
        # Configured in partners but not among the units: nothing to offer; "inactive" says so.
        considered.append(Candidate(partner.control_desk_code, None, None, False, "inactive"))
    elif all(c.code != control.code for c in considered):
        considered.append(_candidate(control, data, origin, ladder=False))
    available = [c.code for c in considered if c.available]
    chosen = available[0] if available else None
    # A staffed station desk does not make the control room wait its turn: both are offered at
    # once (the station desks come first in `considered`, the control desk last).
    together = tuple(available[1:])
    return TransitOutcome(partner_code, station, source, chosen, tuple(considered), together)


def _json(value: object) -> Any:
    # Every float in a Decision is a distance (m) or an ETA (s): whole units are precise enough.
    if isinstance(value, float):
        return round(value) if math.isfinite(value) else None
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    if is_dataclass(value):
        return {f.name: _json(getattr(value, f.name)) for f in fields(value)}
    return value

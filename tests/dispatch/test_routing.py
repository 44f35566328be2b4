"""The pure routing core, table-driven on small hand-made unit sets, then on the shipped data.

The hand-made world: posts on a north-south line through ORIGIN (``unit("p1", 1.0)`` is 1 km
north), the 24/7 central desk with nobody on duty, and an MRT line running 05:00-24:00 with a
control desk and a help desk (Pos SAPA) at station "mrt:BHI".
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.dispatch.hours import OpeningHours
from app.dispatch.routing import (
    SKIP_REASONS,
    AlertFacts,
    Candidate,
    Decision,
    Member,
    PartnerState,
    RoutingInput,
    RoutingPolicy,
    StationNear,
    UnitKind,
    UnitState,
    decide,
)
from app.geo.distance import METRES_PER_DEGREE_LAT, haversine_m
from tests.geo.shipped import dki, dki_areas, dki_stations

JAKARTA = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=JAKARTA)  # a Monday, not a holiday
NIGHT = datetime(2026, 11, 23, 1, 0, tzinfo=JAKARTA)  # the MRT does not run
ORIGIN = (-6.2, 106.8)
SECONDS_PER_METRE = 1.4 / (20.0 / 3.6)  # the default road factor and speed

FEMALE, MALE = Member("f-1", "female"), Member("m-1", "male")
ALWAYS = OpeningHours.ALWAYS
WEEKENDS = OpeningHours.from_json({"weekly": {"sat": [["08:00", "16:00"]]}})
OFFICE = OpeningHours.from_json({"weekly": {"mon": [["08:00", "16:00"]]}})
LINE_HOURS = OpeningHours.from_json(
    {"closed_on_holidays": False, "weekly": {d: [["05:00", "24:00"]] for d in ("mon", "tue")}}
)


def unit(
    code: str,
    km: float | None = None,
    *,
    kind: UnitKind = "post",
    hours: OpeningHours = ALWAYS,
    on_duty: tuple[Member, ...] = (FEMALE,),
    drills: bool = True,
    active: bool = True,
    partner: str | None = None,
    station: str | None = None,
) -> UnitState:
    """A unit `km` north of ORIGIN (negative: south; None: no coordinates)."""
    lat = None if km is None else ORIGIN[0] + km * 1000 / METRES_PER_DEGREE_LAT
    lon = None if km is None else ORIGIN[1]
    area = f"area-{code}" if kind == "post" else None
    return UnitState(code, kind, lat, lon, area, partner, station, hours, on_duty, drills, active)


def closed(u: UnitState) -> UnitState:
    return replace(u, hours=WEEKENDS)


def nobody(u: UnitState) -> UnitState:
    return replace(u, on_duty=())


CENTRAL = unit("central", kind="central_desk", on_duty=())  # nobody there: still offered
P1, P2, P3 = unit("p1", 1.0), unit("p2", 2.0), unit("p3", 3.0)
MRT_CONTROL = unit("mrt-control", kind="transit_desk", partner="mrt")
MRT_SAPA = unit("mrt-sapa", kind="transit_desk", partner="mrt", station="mrt:BHI")
DESKS = (CENTRAL, MRT_CONTROL, MRT_SAPA)
PARTNERS = {"mrt": PartnerState("mrt", "mrt-control", LINE_HOURS)}
NEAREST, JURISDICTION = RoutingPolicy(), RoutingPolicy(mode="jurisdiction")
AT_BHI = (StationNear("mrt:BHI", "mrt", 30.0, True),)


def alert(**overrides: object) -> AlertFacts:
    base = AlertFacts(ORIGIN[0], ORIGIN[1], 20.0, area_code="area-p2", area_method="inside")
    return replace(base, **overrides)  # type: ignore[arg-type]


AT_P2 = alert()
NO_FIX = alert(lat=None, lon=None, accuracy_m=None, area_code=None, area_method="none")


@dataclass(frozen=True)
class Case:
    """A scenario and its expected legs as "code:reason ..." (kinds follow from the reasons)."""

    name: str
    expect: str
    fallback: str | None = None
    transit: str | None = None  # "source station unit", "-" for None
    posts: tuple[UnitState, ...] = (P1, P2, P3)
    desks: tuple[UnitState, ...] = DESKS
    alert: AlertFacts = AT_P2
    policy: RoutingPolicy = NEAREST
    attempted: frozenset[str] = frozenset()
    holidays: frozenset[date] = frozenset()
    now: datetime = NOW
    travel_s: dict[str, float] | None = None
    include_transit: bool = True

    def input(self) -> RoutingInput:
        return RoutingInput(
            alert=self.alert,
            units=(*self.desks, *self.posts),
            partners=PARTNERS,
            central_code="central",
            now_local=self.now,
            holidays=self.holidays,
            policy=self.policy,
            attempted=self.attempted,
            include_transit=self.include_transit,
            travel_s=self.travel_s,
        )

    def run(self) -> Decision:
        return decide(self.input())


def case(**fields: object) -> Case:
    return Case("", "", **fields)  # type: ignore[arg-type]


LEG_KIND = {"fallback": "central", "station_help_desk": "transit", "control_desk": "transit"}
FEMALE_ASKED = alert(companion_preference="female")

LADDER = [
    Case("nearest-policy-takes-the-nearest", "p1:nearest"),
    Case("jurisdiction-policy-takes-the-own-post", "p2:jurisdiction", policy=JURISDICTION),
    Case(
        "jurisdiction-post-closed-skips-to-nearest",
        "p1:nearest",
        posts=(P1, closed(P2), P3),
        policy=JURISDICTION,
    ),
    Case(
        "jurisdiction-post-tried-skips-to-nearest",
        "p1:nearest",
        attempted=frozenset({"p2"}),
        policy=JURISDICTION,
    ),
    Case("closed-post-is-skipped", "p2:nearest", posts=(closed(P1), P2)),
    Case(
        "holiday-closes-a-post",
        "p2:nearest",
        posts=(replace(P1, hours=OFFICE), P2),
        holidays=frozenset({NOW.date()}),
    ),
    Case("nobody-on-duty-is-skipped", "p2:nearest", posts=(nobody(P1), P2)),
    Case(
        "drill-skips-posts-outside-drills",
        "p2:nearest",
        posts=(replace(P1, takes_drills=False), P2),
        alert=alert(is_drill=True),
    ),
    Case("real-alert-ignores-drill-flag", "p1:nearest", posts=(replace(P1, takes_drills=False),)),
    Case("inactive-post-is-skipped", "p2:nearest", posts=(replace(P1, active=False), P2)),
    Case("post-without-coordinates-is-skipped", "p2:nearest", posts=(unit("p0"), P2)),
    Case(
        "outside-region-goes-to-central",
        "central:fallback",
        "outside_region",
        alert=alert(area_code=None, area_method="outside"),
    ),
    Case("no-location-goes-to-central", "central:fallback", "no_location", alert=NO_FIX),
    Case(
        "area-method-none-means-no-location",
        "central:fallback",
        "no_location",
        alert=alert(area_code=None, area_method="none"),
    ),
    Case(
        "just-outside-a-polygon-counts-as-inside",
        "p2:jurisdiction",
        alert=alert(area_method="nearest"),
        policy=JURISDICTION,
    ),
    Case(
        "nobody-available-goes-to-central",
        "central:fallback",
        "nobody_available",
        posts=(nobody(P1), closed(P2)),
    ),
    Case("attempted-posts-are-skipped", "p2:nearest", attempted=frozenset({"p1"})),
    Case(
        "max-post-attempts-goes-to-central",
        "central:fallback",
        "ladder_exhausted",
        posts=(P1, P2, P3, unit("p4", 4.0)),
        attempted=frozenset({"p1", "p2", "p3"}),
    ),
    Case(
        "fewer-attempts-than-the-max-keep-climbing",
        "p3:nearest",
        posts=(P1, P2, P3, unit("p4", 4.0)),
        attempted=frozenset({"p1", "p2"}),
    ),
    Case(
        "every-post-tried-below-the-max-is-nobody-available",
        "central:fallback",
        "nobody_available",
        posts=(P1, P2),
        attempted=frozenset({"p1", "p2"}),
    ),
    Case(
        "central-attempted-leaves-no-ladder-leg",
        "",
        "ladder_exhausted",
        attempted=frozenset({"p1", "p2", "p3", "central"}),
    ),
    Case(
        "central-attempted-without-location-leaves-no-ladder-leg",
        "",
        "ladder_exhausted",
        alert=NO_FIX,
        attempted=frozenset({"central"}),
    ),
    Case(
        "drill-without-a-drill-post-goes-to-central",
        "central:fallback",
        "nobody_available",
        posts=(replace(P1, takes_drills=False),),
        alert=alert(is_drill=True),
    ),
    Case(
        "central-desk-not-in-drills-offers-nothing-to-a-drill",
        "",
        "no_drill_unit",
        posts=(nobody(P1),),
        desks=(replace(CENTRAL, takes_drills=False),),
        alert=alert(is_drill=True),
    ),
    Case("ties-are-broken-by-code", "pa:nearest", posts=(unit("pb", 1.0), unit("pa", 1.0), P2)),
    Case(
        "travel-time-overrides-the-estimate",
        "p3:nearest",
        travel_s={"p3": 100.0, "p1": float("nan")},  # NaN is unusable: p1 is estimated
    ),
    Case(
        "companion-preference-within-the-bound",  # p2 is 252 s farther: within 600 s
        "p2:companion_preference",
        posts=(replace(P1, on_duty=(MALE,)), P2),
        alert=FEMALE_ASKED,
    ),
    Case(
        "companion-preference-beyond-the-bound",  # p5 is 1008 s farther
        "p1:nearest",
        posts=(replace(P1, on_duty=(MALE,)), unit("p5", 5.0)),
        alert=FEMALE_ASKED,
    ),
    Case(
        "companion-preference-already-met",
        "p1:nearest",
        posts=(replace(P1, on_duty=(MALE, FEMALE)), P2),
        alert=FEMALE_ASKED,
    ),
    Case(
        "companion-preference-under-jurisdiction",
        "p1:companion_preference",
        posts=(P1, replace(P2, on_duty=(MALE,)), P3),
        alert=FEMALE_ASKED,
        policy=JURISDICTION,
    ),
    Case(
        "uncertain-circle-between-two-posts",  # 1.0 km north, 1.2 km south, +-400 m
        "p1:nearest s1:uncertain",
        posts=(P1, unit("s1", -1.2), P3),
        alert=alert(accuracy_m=400.0),
    ),
    Case(
        "small-circle-is-never-ambiguous",
        "p1:nearest",
        posts=(P1, unit("s1", -1.2), P3),
        alert=alert(accuracy_m=250.0),
    ),
    Case(
        "uncertain-legs-are-bounded",
        "p1:nearest s1:uncertain s2:uncertain",
        posts=(P1, unit("s1", -1.1), unit("s2", -1.2), unit("s3", -1.3), unit("far", 9.0)),
        alert=alert(accuracy_m=1000.0),
    ),
    Case(
        "uncertain-keeps-the-jurisdiction-post-first",
        "p2:jurisdiction p1:uncertain p3:uncertain",
        alert=alert(accuracy_m=600.0),
        policy=JURISDICTION,
    ),
    Case(
        "uncertain-ignores-skipped-posts",
        "p1:nearest",
        posts=(P1, nobody(unit("s1", -1.2)), P3),
        alert=alert(accuracy_m=400.0),
    ),
]

NIGHT_ALERT = alert(stations=AT_BHI)
TRANSIT = [
    Case(
        # The station's Pos SAPA and the control room are offered at once: no wait in turn.
        "context-with-station-help-desk-offers-the-control-desk-too",
        "p1:nearest mrt-sapa:station_help_desk mrt-control:control_desk",
        transit="context mrt:BHI mrt-sapa",
        alert=alert(transit_partner="mrt", transit_station="mrt:BHI"),
    ),
    Case(
        "context-without-station-goes-to-control-desk",
        "p1:nearest mrt-control:control_desk",
        transit="context - mrt-control",
        alert=alert(transit_partner="mrt"),
    ),
    Case(
        "at-station-by-location-takes-the-nearest-station-at-which-it-is",
        "p1:nearest mrt-sapa:station_help_desk mrt-control:control_desk",
        transit="location mrt:BHI mrt-sapa",
        alert=alert(stations=(StationNear("mrt:X", "mrt", 10.0, False), *AT_BHI)),
    ),
    Case(
        "station-without-help-desk-goes-to-control-desk",
        "p1:nearest mrt-control:control_desk",
        transit="location mrt:LBB mrt-control",
        alert=alert(stations=(StationNear("mrt:LBB", "mrt", 50.0, True),)),
    ),
    Case(
        "help-desk-closed-at-night-goes-to-control-desk",
        "p1:nearest mrt-control:control_desk",
        transit="location mrt:BHI mrt-control",
        alert=alert(stations=AT_BHI),
        now=NIGHT,
    ),
    Case(
        "nothing-available-in-transit-keeps-the-ladder-leg",
        "p1:nearest",
        transit="location mrt:BHI -",
        desks=(CENTRAL, nobody(MRT_SAPA), replace(MRT_CONTROL, active=False)),
        alert=alert(stations=AT_BHI),
    ),
    Case(
        "context-wins-over-location",
        "p1:nearest mrt-control:control_desk",
        transit="context mrt:LBB mrt-control",
        alert=alert(stations=AT_BHI, transit_partner="mrt", transit_station="mrt:LBB"),
    ),
    Case(
        "near-but-not-at-a-station-is-not-transit",
        "p1:nearest",
        alert=alert(stations=(StationNear("mrt:BHI", "mrt", 300.0, False),)),
    ),
    Case("unknown-partner-is-not-transit", "p1:nearest", alert=alert(transit_partner="krl")),
    Case(
        "escalation-steps-leave-transit-out",
        "p1:nearest",
        alert=alert(stations=AT_BHI),
        include_transit=False,
    ),
    Case(
        "no-location-with-context-is-central-plus-transit",
        "central:fallback mrt-control:control_desk",
        "no_location",
        transit="context - mrt-control",
        alert=replace(NO_FIX, transit_partner="mrt"),
    ),
    Case(
        "transit-is-never-the-only-leg",
        "",
        "no_drill_unit",
        transit="context - -",
        posts=(),
        desks=(replace(CENTRAL, takes_drills=False), MRT_CONTROL),
        alert=alert(is_drill=True, transit_partner="mrt"),
    ),
]


def legs(decision: Decision) -> str:
    return " ".join(f"{leg.unit_code}:{leg.reason}" for leg in decision.legs)


@pytest.mark.parametrize("case", LADDER + TRANSIT, ids=lambda c: c.name)
def test_routing(case: Case) -> None:
    decision = case.run()
    assert legs(decision) == case.expect
    assert decision.fallback == case.fallback
    assert all(leg.kind == LEG_KIND.get(leg.reason, "post") for leg in decision.legs)
    assert decision.uncertain is (sum(leg.kind == "post" for leg in decision.legs) > 1)
    for c in decision.candidates:
        assert c.skip_reason is None if c.available else c.skip_reason in SKIP_REASONS
    t = decision.transit
    outcome = None if t is None else (t.source, t.station_uid or "-", t.unit_code or "-")
    assert outcome == (None if case.transit is None else tuple(case.transit.split()))
    if t is not None:
        assert t.partner_code == "mrt"


def skips(candidates: tuple[Candidate, ...]) -> list[tuple[str, str | None]]:
    return [(c.code, c.skip_reason) for c in candidates]


def test_skip_reasons_are_recorded_in_the_spec_order() -> None:
    posts = (
        unit("a-inactive", 1.0, active=False, hours=WEEKENDS, on_duty=()),
        unit("b-no-coordinates", None, hours=WEEKENDS),
        unit("c-tried", 1.0, hours=WEEKENDS),
        # Not drill units: a drill unit's hours do not apply to a drill (see below).
        unit("d-holiday", 1.0, hours=OFFICE, on_duty=(), drills=False),
        unit("e-closed", 1.0, hours=WEEKENDS, on_duty=(), drills=False),
        unit("f-nobody", 1.0, on_duty=(), drills=False),
        unit("g-no-drills", 1.0, drills=False),
        P3,
    )
    decision = case(
        posts=posts,
        alert=alert(is_drill=True),
        attempted=frozenset({"c-tried"}),
        holidays=frozenset({NOW.date()}),
    ).run()
    assert sorted(skips(decision.candidates)[1:]) == [
        ("a-inactive", "inactive"),
        ("b-no-coordinates", "no_coordinates"),
        ("c-tried", "already_tried"),
        ("d-holiday", "holiday"),
        ("e-closed", "closed"),
        ("f-nobody", "nobody_on_duty"),
        ("g-no-drills", "not_in_drills"),
    ]


def test_a_drill_reaches_a_drill_unit_after_hours_but_a_real_alert_does_not() -> None:
    posts = (unit("p-closed", 1.0, hours=WEEKENDS), unit("q-open", 5.0, drills=False))
    drill = case(posts=posts, alert=alert(is_drill=True)).run()
    assert [leg.unit_code for leg in drill.legs] == ["p-closed"]
    real = case(posts=posts, alert=alert()).run()
    assert [leg.unit_code for leg in real.legs] == ["q-open"]
    assert dict(skips(real.candidates))["p-closed"] == "closed"


def test_candidates_are_ranked_available_first_then_skipped_then_without_coordinates() -> None:
    posts = (unit("z-nocoord"), P3, nobody(P1), P2, unit("p0", 0.5, active=False))
    decision = case(posts=posts, alert=alert(area_code="area-p1")).run()
    assert [c.code for c in decision.candidates] == ["p2", "p3", "p0", "p1", "z-nocoord"]
    assert (decision.nearest_post, decision.jurisdiction_post) == ("p2", "p1")
    by_code = {c.code: c for c in decision.candidates}
    assert by_code["p2"].eta_s == pytest.approx(2000 * SECONDS_PER_METRE, rel=1e-3)
    assert by_code["p0"].distance_m == pytest.approx(500, rel=1e-3)  # skipped posts are measured
    assert by_code["z-nocoord"] == Candidate("z-nocoord", None, None, False, "no_coordinates")


def test_without_location_candidates_have_no_distance_but_keep_their_reasons() -> None:
    decision = case(posts=(P2, nobody(P1)), alert=NO_FIX).run()
    assert [(c.code, c.distance_m, c.eta_s, c.skip_reason) for c in decision.candidates] == [
        ("p2", None, None, None),
        ("p1", None, None, "nobody_on_duty"),
    ]
    assert (decision.nearest_post, decision.jurisdiction_post) == (None, None)


def test_outside_region_still_records_the_nearest_post() -> None:
    decision = case(alert=alert(area_code=None, area_method="outside")).run()
    assert (decision.nearest_post, decision.jurisdiction_post) == ("p1", None)
    assert all(c.eta_s is not None for c in decision.candidates)


def test_both_posts_are_recorded_whatever_the_policy() -> None:
    for policy in (NEAREST, JURISDICTION):
        decision = case(posts=(P1, nobody(P2), P3), policy=policy).run()
        assert (decision.nearest_post, decision.jurisdiction_post) == ("p1", "p2")
        assert decision.policy == policy.mode


def test_travel_time_sets_the_eta_of_the_leg_and_missing_units_are_estimated() -> None:
    decision = case(travel_s={"p2": 90.0}).run()
    assert [(leg.unit_code, leg.eta_s) for leg in decision.legs] == [("p2", 90.0)]
    p1 = next(c for c in decision.candidates if c.code == "p1")
    assert p1.eta_s == pytest.approx(1000 * SECONDS_PER_METRE, rel=1e-3)


def test_preferred_sex_is_set_on_every_matching_leg() -> None:
    decision = case(
        posts=(P1, unit("s1", -1.2, on_duty=(MALE,)), P3),
        alert=alert(accuracy_m=400.0, companion_preference="female", transit_partner="mrt"),
    ).run()
    assert [(leg.unit_code, leg.preferred_sex) for leg in decision.legs] == [
        ("p1", "female"),
        ("s1", None),
        ("mrt-control", "female"),
    ]
    assert [leg.preferred_sex for leg in case().run().legs] == [None]


@pytest.mark.parametrize(
    ("now", "sapa_hours", "holidays", "sapa_reason"),
    [
        (NIGHT, ALWAYS, frozenset(), "closed"),  # open itself, but its line does not run
        (NOW, OpeningHours(True, True, {}), frozenset({NOW.date()}), "holiday"),
    ],
)
def test_a_closed_help_desk_is_considered_before_the_control_desk(
    now: datetime, sapa_hours: OpeningHours, holidays: frozenset[date], sapa_reason: str
) -> None:
    transit = (
        case(
            alert=alert(stations=AT_BHI),
            desks=(CENTRAL, MRT_CONTROL, replace(MRT_SAPA, hours=sapa_hours)),
            now=now,
            holidays=holidays,
        )
        .run()
        .transit
    )
    assert transit is not None and transit.unit_code == "mrt-control"
    assert skips(transit.considered) == [("mrt-sapa", sapa_reason), ("mrt-control", None)]


def test_nothing_available_in_transit_lists_why() -> None:
    transit = next(c for c in TRANSIT if c.name.startswith("nothing-available")).run().transit
    assert transit is not None
    assert skips(transit.considered) == [
        ("mrt-sapa", "nobody_on_duty"),
        ("mrt-control", "inactive"),
    ]


def test_same_input_in_any_order_gives_the_same_decision() -> None:
    data = case(
        posts=(P1, unit("s1", -1.2), P3, unit("pa", 1.0), unit("z"), nobody(P2)),
        alert=alert(accuracy_m=400.0, stations=AT_BHI),
    ).input()
    expected = decide(data)
    rng = random.Random(7)
    for _ in range(5):
        shuffled = list(data.units)
        rng.shuffle(shuffled)
        assert decide(replace(data, units=tuple(shuffled))) == expected


def test_to_json_is_serialisable_with_rounded_numbers() -> None:
    decision = case(alert=alert(accuracy_m=400.0, stations=AT_BHI)).run()
    data = decision.to_json()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert list(data) == [
        "policy",
        "legs",
        "candidates",
        "nearest_post",
        "jurisdiction_post",
        "transit",
        "fallback",
        "uncertain",
    ]
    p1 = decision.candidates[0]
    assert data["candidates"][0] == {
        "code": "p1",
        "distance_m": round(p1.distance_m or 0),
        "eta_s": round(p1.eta_s or 0),
        "available": True,
        "skip_reason": None,
    }
    assert isinstance(data["candidates"][0]["eta_s"], int)
    assert data["legs"][0] == {
        "unit_code": "p1",
        "kind": "post",
        "reason": "nearest",
        "eta_s": round(p1.eta_s or 0),
        "preferred_sex": None,
    }
    assert data["transit"]["considered"][0]["code"] == "mrt-sapa"
    assert case(alert=NO_FIX).run().to_json()["candidates"][0]["eta_s"] is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"posts": (P1, P1)}, "duplicate unit code 'p1'"),
        ({"alert": alert(area_method="inisde")}, "area_method"),
        ({"now": NOW.replace(tzinfo=None)}, "aware"),
    ],
)
def test_caller_bugs_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        case(**fields).run()


@pytest.mark.parametrize(
    "overrides",
    [
        {"mode": "closest"},
        {"speed_kmh": 0.0},
        {"road_factor": float("nan")},
        {"uncertainty_accuracy_m": -1.0},
        {"max_plausible_posts": 0},
        {"max_post_attempts": 0},
    ],
)
def test_a_bad_policy_fails_early(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="invalid routing policy"):
        RoutingPolicy(**overrides)  # type: ignore[arg-type]


# --- known answers through the shipped DKI Jakarta data --------------------------------------

SHIPPED_NOW = datetime(2026, 11, 23, 10, 0, tzinfo=JAKARTA)  # Monday: every post is open


def shipped_input(lat: float, lon: float, policy: RoutingPolicy) -> RoutingInput:
    """Everyone on duty, everything active; hours as shipped (posts 08:00-16:00 on weekdays)."""
    bundle = dki()
    post_hours = OpeningHours.from_json(bundle.region.default_post_hours.model_dump(mode="json"))
    units = [
        UnitState(
            code=u.code,
            kind=u.kind,
            lat=u.lat,
            lon=u.lon,
            area_code=u.area_code,
            partner_code=u.partner_code,
            station_uid=u.station_uid,
            hours=OpeningHours.from_json(
                u.hours.model_dump(mode="json") if u.hours else None,
                default=post_hours if u.kind == "post" else None,
            ),
            on_duty=(Member(f"{u.code}-1", "female"),),
            takes_drills=u.takes_drills,
            active=True,
        )
        for u in bundle.units
    ]
    partners = {
        p.code: PartnerState(
            p.code, p.control_desk_code, OpeningHours.from_json(p.operating_hours.model_dump())
        )
        for p in bundle.partners
    }
    match = dki_areas().locate(lat, lon)
    stations = tuple(
        StationNear(s.uid, s.partner_code, s.distance_m, s.at_station)
        for s in dki_stations().nearby(lat, lon, 20.0)
    )
    holidays = frozenset(h.date for year in bundle.holidays for h in year.holidays)
    assert SHIPPED_NOW.date() not in holidays
    return RoutingInput(
        alert=AlertFacts(lat, lon, 20.0, match.area_code, match.method, stations),
        units=units,
        partners=partners,
        central_code=bundle.region.central_desk_code,
        now_local=SHIPPED_NOW,
        holidays=holidays,
        policy=policy,
    )


def nearest_post_by_hand(lat: float, lon: float) -> str:
    ranked = []
    for u in dki().units:
        if u.kind == "post" and u.lat is not None and u.lon is not None:
            ranked.append((haversine_m(lat, lon, u.lat, u.lon) * SECONDS_PER_METRE, u.code))
    assert len(ranked) == 44
    return min(ranked)[1]


def test_blok_m_halte_goes_to_kebayoran_baru_under_jurisdiction_or_the_nearest_post() -> None:
    lat, lon = -6.2436, 106.8013
    assert {p.code: p.name for p, _ in dki().areas}["3171060"] == "Kebayoran Baru"
    station = next(s for s in dki().stations if s.uid == "transjakarta:H00014P")
    assert (station.name, station.kind, station.area_code) == ("Blok M", "brt_halte", "3171060")
    at = dki_stations().nearby(lat, lon, 20.0)[0]  # ~37 m from its nearest platform or entrance
    assert (at.uid, at.at_station) == ("transjakarta:H00014P", True)

    decision = decide(shipped_input(lat, lon, JURISDICTION))
    assert legs(decision) == "3171060:jurisdiction transjakarta:control_desk"
    assert decision.transit is not None
    assert (decision.transit.source, decision.transit.station_uid) == (
        "location",
        "transjakarta:H00014P",
    )
    assert (decision.fallback, decision.uncertain) == (None, False)

    nearest = nearest_post_by_hand(lat, lon)
    decision = decide(shipped_input(lat, lon, NEAREST))
    assert legs(decision) == f"{nearest}:nearest transjakarta:control_desk"
    assert (decision.nearest_post, decision.jurisdiction_post) == (nearest, "3171060")


@pytest.mark.parametrize(
    ("uid", "area_code"),
    [
        ("transjakarta:H00131P", "3173080"),  # TJ Monumen Nasional -> Gambir
        ("transjakarta:H00096P", "3172020"),  # TJ Kampung Rambutan -> Ciracas
        ("lrt:SVEL", "3172090"),  # LRT Velodrome -> Pulo Gadung
        ("lrt:SPGD", "3175050"),  # LRT Pegangsaan Dua -> Kelapa Gading
    ],
)
def test_known_stations_route_to_their_kecamatan_post_and_partner(uid: str, area_code: str) -> None:
    s = next(s for s in dki().stations if s.uid == uid)
    for policy, post in ((JURISDICTION, area_code), (NEAREST, nearest_post_by_hand(s.lat, s.lon))):
        decision = decide(shipped_input(s.lat, s.lon, policy))
        assert [leg.unit_code for leg in decision.legs] == [post, s.partner_code]
        assert decision.transit is not None and decision.transit.station_uid == uid
        assert decision.jurisdiction_post == area_code


def test_at_night_the_shipped_posts_are_closed_and_the_central_desk_answers() -> None:
    data = shipped_input(-6.2436, 106.8013, NEAREST)
    decision = decide(replace(data, now_local=SHIPPED_NOW + timedelta(hours=12)))
    assert legs(decision) == "central:fallback transjakarta:control_desk"
    assert decision.fallback == "nobody_available"
    assert {c.skip_reason for c in decision.candidates} == {"closed"}

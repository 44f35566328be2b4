"""StationIndex: at-station decisions, stations only (no roadside stops), agreement with a scan."""

from __future__ import annotations

import csv
import math
import re
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.geo.distance import haversine_m
from app.geo.stations import Station, StationIndex
from app.reference.bundle import to_geo_stations
from tests.geo.brute import brute_nearby
from tests.geo.shipped import dki, dki_stations, shared_data

# transjakarta-gtfs-2026-04/stops.txt H00014P "Blok M" (a BRT terminal-sized halte).
BLOK_M = (-6.243312, 106.80175)
# A residential street in Jagakarsa, ~2.9 km from the nearest station point, platform or entrance.
NOWHERE_NEAR = (-6.33, 106.81)


@cache
def all_stations() -> list[Station]:
    return to_geo_stations(dki())


def test_at_blok_m_with_a_precise_fix() -> None:
    found = dki_stations().nearby(*BLOK_M, 20.0)
    assert found[0].uid == "transjakarta:H00014P"
    assert found[0].partner_code == "transjakarta"
    assert found[0].distance_m == 0.0 and found[0].at_station
    # Blok M Jalur 2 (~15 m away) and MRT Blok M BCA (~420 m) are candidates too.
    uids = [c.uid for c in found]
    assert "transjakarta:B06577P" in uids
    assert "mrt:SBKM" in uids
    assert [c.distance_m for c in found] == sorted(c.distance_m for c in found)


def test_at_blok_m_with_a_vague_fix_is_near_but_not_at() -> None:
    found = dki_stations().nearby(*BLOK_M, 400.0)
    assert found[0].uid == "transjakarta:H00014P"
    assert not any(c.at_station for c in found)


def test_unknown_or_unusable_accuracy_is_never_at_station() -> None:
    for accuracy in (None, math.nan, math.inf, -5.0):
        found = dki_stations().nearby(*BLOK_M, accuracy)
        assert found and not any(c.at_station for c in found), accuracy


def test_thresholds_are_parameters() -> None:
    index = dki_stations()
    assert index.nearby(*BLOK_M, 200.0, max_accuracy_m=250)[0].at_station
    lat, lon = BLOK_M[0] + 0.0012, BLOK_M[1]  # ~133 m north of the halte point
    within = index.nearby(lat, lon, 10.0, at_station_radius_m=150)
    assert within[0].at_station is (within[0].distance_m <= 150)
    tight = index.nearby(lat, lon, 10.0, at_station_radius_m=5)
    assert not any(c.at_station for c in tight)
    assert len(index.nearby(*BLOK_M, 10.0, limit=1)) == 1


def test_far_from_any_station_finds_nothing() -> None:
    nearest = min(
        haversine_m(*NOWHERE_NEAR, lat, lon)
        for s in all_stations()
        for lat, lon in ((s.lat, s.lon), *s.access_points)
    )
    assert nearest > 2000
    assert dki_stations().nearby(*NOWHERE_NEAR, 5.0) == []


def test_the_distance_is_to_the_nearest_entrance_or_platform() -> None:
    # MRT Lebak Bulus's Akses A (ELBB01) is ~115 m west of the station point.
    station = next(s for s in all_stations() if s.uid == "mrt:SLBB")
    entrance = (-6.289143, 106.773893)
    assert entrance in station.access_points
    found = {c.uid: c for c in dki_stations().nearby(*entrance, 10.0)}
    assert found["mrt:SLBB"].distance_m == 0.0 and found["mrt:SLBB"].at_station
    assert haversine_m(*entrance, station.lat, station.lon) > 100


def test_only_stations_are_indexed_never_roadside_bus_stops() -> None:
    uids = {s.uid for s in all_stations()}
    transjakarta = {u.split(":", 1)[1] for u in uids if u.startswith("transjakarta:")}
    b_stations = {u for u in transjakarta if u.startswith("B")}
    # The five B-prefixed stops the feed marks as stations (terminals and hubs); every other B…P
    # stop is a roadside bus stop.
    assert b_stations == {"B00825P", "B06577P", "B01976P", "B07213P", "B07663P"}
    assert all(re.fullmatch(r"H\d{5}[A-Z]", u) for u in transjakarta - b_stations)
    assert len(transjakarta) == 283
    # A roadside stop ("18 Office Park", B00001P) is never a candidate, even standing on it.
    here = (-6.299146, 106.8321)
    assert all(c.uid != "transjakarta:B00001P" for c in dki_stations().nearby(*here, 5.0))


def test_no_roadside_stop_from_the_feed_is_a_station_or_access_point() -> None:
    data = shared_data()
    with (data / "transjakarta-gtfs-2026-04" / "stops.txt").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    roadside = {
        r["stop_id"]
        for r in rows
        if r["stop_id"].startswith("B") and r["location_type"] == "0" and not r["parent_station"]
    }
    assert len(roadside) > 7000
    shipped_ids = {
        s.uid.split(":", 1)[1] for s in dki().stations if s.partner_code == "transjakarta"
    }
    shipped_ids |= {
        a.id for s in dki().stations if s.partner_code == "transjakarta" for a in s.access_points
    }
    assert not roadside & shipped_ids
    stations = {r["stop_id"] for r in rows if r["location_type"] == "1"}
    assert stations <= shipped_ids


# ---------------------------------------------------------------------------------------------
# Agreement with a scan


def compare(lat: float, lon: float, accuracy: float | None, radius: float, limit: int) -> None:
    kwargs = {
        "search_radius_m": radius,
        "at_station_radius_m": 150.0,
        "max_accuracy_m": 150.0,
        "limit": limit,
    }
    fast = dki_stations().nearby(lat, lon, accuracy, **kwargs)  # type: ignore[arg-type]
    slow = brute_nearby(all_stations(), lat, lon, accuracy, **kwargs)  # type: ignore[arg-type]
    assert fast == slow


@settings(max_examples=400, deadline=None)
@given(
    lat=st.floats(min_value=-6.40, max_value=-6.05),
    lon=st.floats(min_value=106.65, max_value=107.05),
    accuracy=st.none() | st.floats(min_value=0, max_value=1000),
    radius=st.sampled_from([0.0, 50.0, 150.0, 500.0, 1500.0, 5000.0]),
    limit=st.integers(min_value=1, max_value=30),
)
def test_nearby_agrees_with_a_scan(
    lat: float, lon: float, accuracy: float | None, radius: float, limit: int
) -> None:
    compare(lat, lon, accuracy, radius, limit)


def test_nearby_agrees_with_a_scan_around_every_station() -> None:
    """Points 0-300 m from every station, where candidates are dense and cells are crossed."""
    for n, s in enumerate(all_stations()):
        bearing = math.radians(n * 37 % 360)
        offset = (n * 7919 % 300) / 111_195
        compare(
            s.lat + offset * math.cos(bearing), s.lon + offset * math.sin(bearing), 30.0, 500.0, 5
        )


def test_a_huge_radius_walks_the_grid_instead_of_every_cell() -> None:
    found = dki_stations().nearby(-6.2, 106.8, None, search_radius_m=200_000, limit=1000)
    assert len(found) == len(all_stations())


@pytest.mark.parametrize(
    ("lat", "lon", "radius", "limit"),
    [
        (math.nan, 106.8, 500.0, 5),
        (-6.2, math.inf, 500.0, 5),
        (-91.0, 106.8, 500.0, 5),
        (-6.2, 181.0, 500.0, 5),
        (-6.2, 106.8, -1.0, 5),
        (-6.2, 106.8, math.nan, 5),
        (-6.2, 106.8, math.inf, 5),
        (-6.2, 106.8, 500.0, 0),
        ("x", 106.8, 500.0, 5),
        (None, None, 500.0, 5),
    ],
)
def test_bad_inputs_give_no_candidates(lat: object, lon: object, radius: float, limit: int) -> None:
    assert dki_stations().nearby(lat, lon, 10.0, search_radius_m=radius, limit=limit) == []  # type: ignore[arg-type]


def test_poles_and_empty_index_do_not_fail() -> None:
    assert dki_stations().nearby(90.0, 0.0, 5.0) == []
    assert dki_stations().nearby(-90.0, 180.0, 5.0, search_radius_m=1e7, limit=1) != []
    assert StationIndex.build([]).nearby(-6.2, 106.8, 5.0) == []


def test_build_rejects_duplicates_and_bad_coordinates() -> None:
    good = Station("x:1", "x", "One", "brt_halte", -6.2, 106.8, None)
    with pytest.raises(ValueError, match="duplicate"):
        StationIndex.build([good, good])
    with pytest.raises(ValueError, match="bad coordinate"):
        StationIndex.build([Station("x:2", "x", "Two", "brt_halte", math.nan, 106.8, None)])
    with pytest.raises(ValueError, match="bad coordinate"):
        StationIndex.build(
            [Station("x:3", "x", "Three", "brt_halte", -6.2, 106.8, None, ((-6.2, 200.0),))]
        )

"""Property: with a precise fix, the first ladder leg is the brute-force nearest available post.

Points are drawn inside the shipped DKI kecamatan polygons (a random triangle of a polygon's
triangulation, then a random point in it) and availability at random (a random subset of the
posts has someone on duty; everything is open). The brute force ranks every available post by
(haversine x road factor / speed, code) and falls back to the central desk when none is left.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import shape

from app.dispatch.hours import OpeningHours
from app.dispatch.routing import AlertFacts, Member, RoutingInput, RoutingPolicy, UnitState, decide
from app.geo.distance import haversine_m
from tests.geo.shipped import dki, dki_areas

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
POLICY = RoutingPolicy()
ON_DUTY = (Member("staff-1", "female"),)


@cache
def triangles() -> list[list[np.ndarray]]:
    """Per kecamatan, its triangles as (3, 2) arrays of lon/lat: sampling a triangle uniformly is
    simple, and every point of one lies inside the polygon."""
    result = []
    for _, geometry in sorted(dki().areas, key=lambda a: a[0].code):
        parts = shapely.get_parts(shapely.constrained_delaunay_triangles(shape(geometry)))
        result.append([shapely.get_coordinates(t)[:3] for t in parts])
    return result


@cache
def posts() -> tuple[UnitState, ...]:
    return tuple(
        UnitState(
            code=u.code,
            kind="post",
            lat=u.lat,
            lon=u.lon,
            area_code=u.area_code,
            partner_code=None,
            station_uid=None,
            hours=OpeningHours.ALWAYS,
            on_duty=(),
            takes_drills=True,
            active=True,
        )
        for u in dki().units
        if u.kind == "post"
    )


@cache
def central() -> UnitState:
    code = dki().region.central_desk_code
    return replace(posts()[0], code=code, kind="central_desk", area_code=None, on_duty=ON_DUTY)


def brute_force(lat: float, lon: float, available: list[UnitState]) -> str:
    ranked = [
        (
            haversine_m(lat, lon, u.lat, u.lon) * POLICY.road_factor / (POLICY.speed_kmh / 3.6),
            u.code,
        )
        for u in available
        if u.lat is not None and u.lon is not None
    ]
    return min(ranked)[1] if ranked else dki().region.central_desk_code


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    area=st.integers(min_value=0, max_value=43),
    triangle=st.integers(min_value=0, max_value=10**6),
    u=st.floats(min_value=0, max_value=1),
    v=st.floats(min_value=0, max_value=1),
    staffed=st.lists(st.booleans(), min_size=44, max_size=44),
)
def test_first_ladder_leg_is_the_brute_force_nearest_available_post(
    area: int, triangle: int, u: float, v: float, staffed: list[bool]
) -> None:
    corners = triangles()[area]
    a, b, c = corners[triangle % len(corners)]
    if u + v > 1:  # fold the unit square onto the triangle
        u, v = 1 - u, 1 - v
    lon, lat = (float(x) for x in a + u * (b - a) + v * (c - a))
    match = dki_areas().locate(lat, lon)
    assert match.method in ("inside", "nearest")  # on an edge, rounding may put it just outside

    units = [
        replace(p, on_duty=ON_DUTY) if on else p for p, on in zip(posts(), staffed, strict=True)
    ]
    available = [p for p in units if p.on_duty]
    decision = decide(
        RoutingInput(
            alert=AlertFacts(lat, lon, 20.0, match.area_code, match.method),
            units=(central(), *units),
            partners={},
            central_code=dki().region.central_desk_code,
            now_local=NOW,
            holidays=frozenset(),
            policy=POLICY,
        )
    )
    assert decision.legs[0].unit_code == brute_force(lat, lon, available)
    assert len(decision.legs) == 1 and not decision.uncertain
    assert decision.fallback == (None if available else "nobody_available")

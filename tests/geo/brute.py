"""Slow, obviously-correct reference implementations the geo indexes are checked against.

Pure Python on purpose: no shapely, no grid, no tree — ray casting over every ring and a scan over
every station point, so a bug in the fast path cannot hide in a shared dependency.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.geo.areas import Area
from app.geo.distance import haversine_m
from app.geo.stations import Station, StationCandidate

Ring = list[tuple[float, float]]  # (lon, lat) as in GeoJSON

ON_EDGE_DEG = 1e-7
"""Closer than this (~1 cm) to a boundary, "inside which polygon" is a matter of float rounding:
any polygon touching the point is an acceptable answer."""
TIE_M = 0.5
"""Nearest-polygon distances closer than this are ties: either polygon is acceptable."""


@dataclass(frozen=True)
class BruteArea:
    code: str
    region_code: str
    polygons: list[tuple[Ring, list[Ring]]]  # (exterior, holes)
    bbox: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


def brute_areas(areas: Iterable[Area]) -> list[BruteArea]:
    result = []
    for area in sorted(areas, key=lambda a: a.code):
        coords: Any = area.geometry["coordinates"]
        polys = [coords] if area.geometry["type"] == "Polygon" else coords
        polygons = [
            (
                [(float(x), float(y)) for x, y in rings[0]],
                [[(x, y) for x, y in h] for h in rings[1:]],
            )
            for rings in polys
        ]
        xs = [x for ext, _ in polygons for x, _ in ext]
        ys = [y for ext, _ in polygons for _, y in ext]
        result.append(
            BruteArea(area.code, area.region_code, polygons, (min(xs), min(ys), max(xs), max(ys)))
        )
    return result


def _ray_inside(x: float, y: float, ring: Ring) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _segment_distance_deg(x: float, y: float, ring: Ring, kx: float) -> float:
    """Distance in degrees of latitude, with longitudes scaled by kx (local flat projection)."""
    best = math.inf
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        ax, ay, bx, by, px, py = x1 * kx, y1, x2 * kx, y2, x * kx, y
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
        best = min(best, math.hypot(px - (ax + t * dx), py - (ay + t * dy)))
    return best


def _rings(area: BruteArea) -> Iterable[Ring]:
    for exterior, holes in area.polygons:
        yield exterior
        yield from holes


def _contains(area: BruteArea, x: float, y: float) -> bool:
    return any(
        _ray_inside(x, y, ext) and not any(_ray_inside(x, y, h) for h in holes)
        for ext, holes in area.polygons
    )


def _in_bbox(area: BruteArea, x: float, y: float, margin: float) -> bool:
    x0, y0, x1, y1 = area.bbox
    return x0 - margin <= x <= x1 + margin and y0 - margin <= y <= y1 + margin


@dataclass(frozen=True)
class Expected:
    """What ``AreaIndex.locate`` may answer: any of `methods` with any of `codes`."""

    methods: frozenset[str]
    codes: frozenset[str | None]

    def accepts(self, method: str, code: str | None) -> bool:
        return method in self.methods and code in self.codes


def brute_locate(
    areas: Sequence[BruteArea], tolerance_m: Mapping[str, float], lat: float, lon: float
) -> Expected:
    """The acceptable answers for a point, by the rules of ``AreaIndex.locate``: inside (lowest
    code on shared boundaries), else the nearest area within its region's tolerance, else outside.
    """
    kx = math.cos(math.radians(lat))
    metres_per_deg = 111_195.0
    on_edge = {
        a.code
        for a in areas
        if _in_bbox(a, lon, lat, ON_EDGE_DEG)
        and min(_segment_distance_deg(lon, lat, r, kx) for r in _rings(a)) < ON_EDGE_DEG
    }
    inside = sorted(
        a.code
        for a in areas
        if _in_bbox(a, lon, lat, 0) and a.code not in on_edge and _contains(a, lon, lat)
    )
    if on_edge:
        # Within float noise of a boundary: the index may see it on either side, or just outside.
        return Expected(frozenset({"inside", "nearest"}), frozenset({*on_edge, *inside[:1]}))
    if inside:
        return Expected(frozenset({"inside"}), frozenset({inside[0]}))
    max_tol_deg = max(tolerance_m.values(), default=0.0) / metres_per_deg / max(kx, 1e-6)
    distances = {
        a.code: min(_segment_distance_deg(lon, lat, r, kx) for r in _rings(a)) * metres_per_deg
        for a in areas
        if _in_bbox(a, lon, lat, max_tol_deg)
    }
    region_of = {a.code: a.region_code for a in areas}

    def tolerance(code: str) -> float:
        return tolerance_m.get(region_of[code], 0.0)

    # Distances within TIE_M of the tolerance are borderline: "nearest" or "outside" both pass.
    candidates = {c: d for c, d in distances.items() if d <= tolerance(c) + TIE_M}
    if not candidates:
        return Expected(frozenset({"outside"}), frozenset({None}))
    best = min(candidates.values())
    codes: set[str | None] = {c for c, d in candidates.items() if d <= best + TIE_M}
    methods = {"nearest"}
    if all(d > tolerance(c) - TIE_M for c, d in candidates.items() if c in codes):
        methods.add("outside")
        codes.add(None)
    return Expected(frozenset(methods), frozenset(codes))


def brute_nearby(
    stations: Sequence[Station],
    lat: float,
    lon: float,
    accuracy_m: float | None,
    *,
    search_radius_m: float,
    at_station_radius_m: float,
    max_accuracy_m: float,
    limit: int,
) -> list[StationCandidate]:
    """``StationIndex.nearby`` by scanning every point of every station."""
    precise = accuracy_m is not None and 0 <= accuracy_m <= max_accuracy_m
    found = []
    for s in stations:
        distance = min(
            haversine_m(lat, lon, plat, plon) for plat, plon in ((s.lat, s.lon), *s.access_points)
        )
        if distance <= search_radius_m:
            found.append(
                StationCandidate(
                    s.uid,
                    s.partner_code,
                    s.name,
                    s.kind,
                    distance,
                    precise and distance <= at_station_radius_m,
                )
            )
    found.sort(key=lambda c: (c.distance_m, c.uid))
    return found[:limit]

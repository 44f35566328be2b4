"""Which area (kecamatan) a point lies in.

In: areas as GeoJSON Polygon/MultiPolygon geometries in WGS84 lon/lat, each tagged with its region,
and each region's outside tolerance in metres. Out: an ``AreaMatch`` for any (lat, lon) —
``locate`` never raises.

How a point is placed, in order:

1. **inside** — the point lies in or on the boundary of an area polygon. On a shared boundary (or
   where bundles overlap) the area with the lowest code wins, so the answer is deterministic.
   ``distance_m`` is 0.
2. **nearest** — the point is outside every polygon but within its region's tolerance
   (``RegionFile.outside_tolerance_m``) of one: a fix in the harbour, on a pier, or a few metres
   across a boundary drawn from 1:n-thousand maps. The nearest polygon within its own region's
   tolerance wins (ties: lowest code); ``distance_m`` is the great-circle distance to it.
3. **outside** — farther than the tolerance from every area: ``area_code`` and ``region_code`` are
   None and ``distance_m`` is the distance to the nearest polygon (measured from the planar nearest
   point in degrees, which near the equator is within a fraction of a percent of the true nearest).
   Callers route such alerts to a central desk; the point itself is still recorded.

Unusable input (NaN, infinite, latitude beyond ±90 or longitude beyond ±180) and an empty index
also give **outside**, with ``distance_m`` = ``math.inf`` (no distance can be measured). Keep that
value out of JSON, which has no infinity.

Lookups use a shapely STRtree over the polygons' bounding boxes and prepared geometries, so the
common case (a point inside Jakarta) costs a few microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import shapely
from shapely.errors import ShapelyError
from shapely.geometry import shape

from app.geo.distance import METRES_PER_DEGREE_LAT, degrees_lon_for, haversine_m, is_valid_lat_lon

AreaMethod = Literal["inside", "nearest", "outside"]


@dataclass(frozen=True)
class Area:
    """One area to index. ``geometry`` is a GeoJSON Polygon or MultiPolygon (lon/lat)."""

    code: str
    name: str
    city_code: str
    city_name: str
    region_code: str
    geometry: Mapping[str, Any]


@dataclass(frozen=True)
class AreaMatch:
    """Where a point was placed; see the module docstring for the three methods."""

    area_code: str | None
    region_code: str | None
    method: AreaMethod
    distance_m: float


_UNMEASURABLE = AreaMatch(area_code=None, region_code=None, method="outside", distance_m=math.inf)


def _polygonal(area: Area) -> shapely.Geometry:
    """The area's geometry as a valid shapely (Multi)Polygon, or ValueError."""
    kind = area.geometry.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"area {area.code}: geometry must be Polygon or MultiPolygon, not {kind}")
    try:
        geom = shape(area.geometry)
    except (KeyError, TypeError, ValueError, IndexError, ShapelyError) as exc:
        raise ValueError(f"area {area.code}: unreadable geometry ({exc})") from exc
    if not geom.is_valid:
        # Repair self-intersections rather than refuse a whole region over one bad ring; keep
        # only the polygonal parts (repair can leave stray lines or points).
        parts = [
            p
            for p in shapely.get_parts(shapely.make_valid(geom))
            if p.geom_type in ("Polygon", "MultiPolygon")
        ]
        geom = shapely.union_all(parts)
    if geom.is_empty:
        raise ValueError(f"area {area.code}: empty geometry")
    return geom


class AreaIndex:
    """An immutable spatial index of areas; build it with ``AreaIndex.build``."""

    def __init__(
        self,
        codes: list[str],
        region_codes: list[str],
        geoms: list[shapely.Geometry],
        tolerances_m: list[float],
    ) -> None:
        self._codes = codes
        self._region_codes = region_codes
        self._geoms = np.array(geoms, dtype=object)
        self._tolerances_m = tolerances_m
        self._max_tolerance_m = max(tolerances_m, default=0.0)
        # Prepared geometries make the point-in-polygon test after the tree lookup cheap.
        shapely.prepare(self._geoms)
        self._tree = shapely.STRtree(self._geoms)

    @classmethod
    def build(
        cls, areas: Iterable[Area], tolerance_m: Mapping[str, float] | float = 0.0
    ) -> AreaIndex:
        """Index `areas`.

        `tolerance_m` is either one tolerance for every region or a map region code → tolerance
        (a region missing from the map gets 0: inside-only). Raises ValueError for duplicate area
        codes, non-polygonal or unreadable geometries, or a negative or non-finite tolerance.
        """
        # Sorting by code makes "lowest index" mean "lowest code": the boundary tie-break.
        ordered = sorted(areas, key=lambda a: a.code)
        codes = [a.code for a in ordered]
        if len(set(codes)) != len(codes):
            dupes = sorted({c for c in codes if codes.count(c) > 1})
            raise ValueError(f"duplicate area codes: {', '.join(dupes)}")
        tolerances = [
            float(tolerance_m.get(a.region_code, 0.0))
            if isinstance(tolerance_m, Mapping)
            else float(tolerance_m)
            for a in ordered
        ]
        if any(not math.isfinite(t) or t < 0 for t in tolerances):
            raise ValueError("tolerances must be finite and not negative")
        return cls(
            codes=codes,
            region_codes=[a.region_code for a in ordered],
            geoms=[_polygonal(a) for a in ordered],
            tolerances_m=tolerances,
        )

    def __len__(self) -> int:
        return len(self._codes)

    @property
    def codes(self) -> tuple[str, ...]:
        """The indexed area codes, sorted."""
        return tuple(self._codes)

    def locate(self, lat: float, lon: float) -> AreaMatch:
        """Place a point (degrees). Never raises; see the module docstring for the rules."""
        if not self._codes or not _is_number(lat) or not _is_number(lon):
            return _UNMEASURABLE
        lat, lon = float(lat), float(lon)
        if not is_valid_lat_lon(lat, lon):
            return _UNMEASURABLE
        point = shapely.Point(lon, lat)

        candidates = self._tree.query(point)
        if candidates.size:
            hits = candidates[shapely.intersects_xy(self._geoms[candidates], lon, lat)]
            if hits.size:
                i = int(hits.min())
                return AreaMatch(self._codes[i], self._region_codes[i], "inside", 0.0)

        if self._max_tolerance_m > 0:
            # A window in degrees wide enough to hold every polygon within the largest tolerance;
            # each candidate is then measured in metres against its own region's tolerance.
            window = max(
                degrees_lon_for(self._max_tolerance_m, lat),
                self._max_tolerance_m / METRES_PER_DEGREE_LAT,
            )
            best: tuple[float, int] | None = None
            for i in sorted(int(c) for c in self._tree.query(point, "dwithin", window)):
                distance = self._distance_m(i, point, lat, lon)
                if distance <= self._tolerances_m[i] and (best is None or distance < best[0]):
                    best = (distance, i)
            if best is not None:
                distance, i = best
                return AreaMatch(self._codes[i], self._region_codes[i], "nearest", distance)

        nearest = self._tree.query_nearest(point)
        distance = min(self._distance_m(int(i), point, lat, lon) for i in nearest)
        return AreaMatch(None, None, "outside", distance)

    def _distance_m(self, i: int, point: shapely.Point, lat: float, lon: float) -> float:
        """Metres from (lat, lon) to the nearest point of area `i` (planar nearest, in degrees)."""
        line = shapely.shortest_line(self._geoms[i], point)
        near_lon, near_lat = line.coords[0]
        return haversine_m(lat, lon, near_lat, near_lon)


def _is_number(value: object) -> bool:
    # bool is an int, but True/False as a coordinate is a caller bug, not a place.
    return isinstance(value, int | float) and not isinstance(value, bool)

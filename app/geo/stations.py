"""Which transit stations are near a point, and whether the caller is at one.

In: stations (a point plus its platforms and entrances, WGS84 degrees) and a location fix with its
accuracy radius in metres (None when unknown). Out: up to `limit` ``StationCandidate`` within
`search_radius_m`, nearest first — or [] for unusable input; ``nearby`` never raises.

A station's distance is to the nearest of its own point, platforms and entrances: a big terminal's
centroid can be 200 m from the gate a victim is standing at. "At the station" needs a fix precise
enough to tell: the accuracy is known, at most `max_accuracy_m`, and the distance at most
`at_station_radius_m`. A phone reporting ±400 m next to a halte is *near* it, not *at* it.

The index is a hash grid of ~550 m cells over every station and access point, so a lookup reads a
handful of cells instead of scanning the network. Longitudes are not wrapped at ±180° (no region
straddles the antimeridian).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from app.geo.distance import METRES_PER_DEGREE_LAT, degrees_lon_for, haversine_m, is_valid_lat_lon

_CELL_DEG = 0.005
"""Grid cell size in degrees (~555 m of latitude): a 500 m search touches at most 3 x 3 cells."""


@dataclass(frozen=True)
class Station:
    """One station to index. `access_points` are its platforms and entrances as (lat, lon)."""

    uid: str
    partner_code: str
    name: str
    kind: str
    lat: float
    lon: float
    area_code: str | None
    access_points: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class StationCandidate:
    """A station near the fix; `distance_m` is to its nearest point, platform or entrance."""

    uid: str
    partner_code: str
    name: str
    kind: str
    distance_m: float
    at_station: bool


_Point = tuple[float, float, int]
"""An indexed coordinate: (lat, lon, position of its station in the sorted station list)."""


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / _CELL_DEG), math.floor(lon / _CELL_DEG)


class StationIndex:
    """An immutable grid index of stations; build it with ``StationIndex.build``."""

    def __init__(self, stations: list[Station], grid: dict[tuple[int, int], list[_Point]]) -> None:
        self._stations = stations
        self._grid = grid

    @classmethod
    def build(cls, stations: Iterable[Station]) -> StationIndex:
        """Index `stations`. Raises ValueError for a duplicate uid or an unusable coordinate."""
        ordered = sorted(stations, key=lambda s: s.uid)
        grid: dict[tuple[int, int], list[_Point]] = defaultdict(list)
        seen: set[str] = set()
        for number, station in enumerate(ordered):
            if station.uid in seen:
                raise ValueError(f"duplicate station uid {station.uid}")
            seen.add(station.uid)
            for lat, lon in ((station.lat, station.lon), *station.access_points):
                if not is_valid_lat_lon(lat, lon):
                    raise ValueError(f"station {station.uid}: bad coordinate ({lat}, {lon})")
                grid[_cell(lat, lon)].append((lat, lon, number))
        return cls(ordered, dict(grid))

    def __len__(self) -> int:
        return len(self._stations)

    def nearby(
        self,
        lat: float,
        lon: float,
        accuracy_m: float | None,
        *,
        search_radius_m: float = 500.0,
        at_station_radius_m: float = 150.0,
        max_accuracy_m: float = 150.0,
        limit: int = 5,
    ) -> list[StationCandidate]:
        """Stations within `search_radius_m` of (lat, lon), sorted by (distance_m, uid).

        Unusable coordinates, a negative or non-finite radius, or `limit` < 1 give [].
        An accuracy that is None, negative or not finite counts as unknown: never "at station".
        """
        if not (_is_number(lat) and _is_number(lon) and _is_number(search_radius_m)):
            return []
        lat, lon, radius = float(lat), float(lon), float(search_radius_m)
        if not is_valid_lat_lon(lat, lon) or not math.isfinite(radius) or radius < 0 or limit < 1:
            return []

        best: dict[int, float] = {}
        for plat, plon, number in self._points_near(lat, lon, radius):
            distance = haversine_m(lat, lon, plat, plon)
            if distance <= radius and distance < best.get(number, math.inf):
                best[number] = distance

        precise = (
            accuracy_m is not None
            and _is_number(accuracy_m)
            and math.isfinite(accuracy_m)
            and 0 <= accuracy_m <= max_accuracy_m
        )
        # Stations are sorted by uid, so their position breaks distance ties by uid.
        found = sorted((distance, n) for n, distance in best.items())[:limit]
        return [
            _candidate(self._stations[n], distance, precise and distance <= at_station_radius_m)
            for distance, n in found
        ]

    def _points_near(self, lat: float, lon: float, radius_m: float) -> Iterable[_Point]:
        """Every indexed point in cells overlapping the window around (lat, lon); a superset."""
        dlat = radius_m / METRES_PER_DEGREE_LAT
        dlon = degrees_lon_for(radius_m, lat)
        lat_lo, lon_lo = _cell(lat - dlat, lon - dlon)
        lat_hi, lon_hi = _cell(lat + dlat, lon + dlon)
        cells = (lat_hi - lat_lo + 1) * (lon_hi - lon_lo + 1)
        if cells > len(self._grid):
            # A huge window (a large radius, or near a pole): walking the occupied cells is cheaper.
            for (row, col), points in self._grid.items():
                if lat_lo <= row <= lat_hi and lon_lo <= col <= lon_hi:
                    yield from points
            return
        for row in range(lat_lo, lat_hi + 1):
            for col in range(lon_lo, lon_hi + 1):
                yield from self._grid.get((row, col), ())


def _candidate(station: Station, distance_m: float, at_station: bool) -> StationCandidate:
    return StationCandidate(
        uid=station.uid,
        partner_code=station.partner_code,
        name=station.name,
        kind=station.kind,
        distance_m=distance_m,
        at_station=at_station,
    )


def _is_number(value: object) -> bool:
    # bool is an int, but True/False as a coordinate or radius is a caller bug, not a value.
    return isinstance(value, int | float) and not isinstance(value, bool)

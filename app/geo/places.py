"""A location in words: the kelurahan (sub-district) and the nearest station, with its distance
and compass direction, for a counselor to say on the phone or a guard to walk to.

In: kelurahan polygons (``kelurahan.geojson`` of a region bundle, loaded once per process) and the
stations already indexed for routing. Out: a ``Place`` for a usable point inside a kelurahan, or
None. Descriptive only: routing never reads it (a kelurahan border is not a catchment), so a bundle
without the file just gives places without a kelurahan.

The direction is the way from the landmark to the victim ("200 m north-east of Halte Bundaran
HI"), on eight compass points, since that is what a guard standing at the halte needs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from app.geo.areas import Area, AreaIndex
from app.geo.distance import is_valid_lat_lon
from app.geo.stations import Station, StationIndex

LANDMARK_RADIUS_M = 2000.0
"""Beyond this a station no longer helps anyone find the place."""
Direction = Literal["N", "NE", "E", "SE", "S", "SW", "W", "NW"]
DIRECTIONS: tuple[Direction, ...] = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


@dataclass(frozen=True)
class Landmark:
    name: str
    kind: str
    partner_code: str
    distance_m: float
    direction: Direction
    """From the landmark to the point, one of ``DIRECTIONS``."""


@dataclass(frozen=True)
class Place:
    kelurahan_code: str | None
    kelurahan: str | None
    landmark: Landmark | None


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from point 1 to point 2, clockwise from north, [0, 360)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(x, y)) + 360.0) % 360.0


def compass(bearing: float) -> Direction:
    return DIRECTIONS[int((bearing + 22.5) // 45) % 8]


class PlaceIndex:
    def __init__(self, kelurahan: AreaIndex, names: dict[str, str], stations: StationIndex,
                 by_uid: dict[str, Station]) -> None:
        self._kelurahan = kelurahan
        self._names = names
        self._stations = stations
        self._by_uid = by_uid

    @classmethod
    def build(cls, kelurahan: Iterable[Area], stations: Iterable[Station]) -> PlaceIndex:
        kelurahan = list(kelurahan)
        stations = list(stations)
        # Inside a polygon only: a kelurahan "nearest" to a point in the sea names no place.
        index = AreaIndex.build(kelurahan, tolerance_m={})
        return cls(index, {k.code: k.name for k in kelurahan}, StationIndex.build(stations),
                   {s.uid: s for s in stations})

    def describe(self, lat: float | None, lon: float | None) -> Place | None:
        if lat is None or lon is None or not is_valid_lat_lon(lat, lon):
            return None
        match = self._kelurahan.locate(lat, lon)
        code = match.area_code if match.method == "inside" else None
        landmark = None
        nearest = self._stations.nearby(lat, lon, None, search_radius_m=LANDMARK_RADIUS_M, limit=1)
        if nearest:
            station = self._by_uid[nearest[0].uid]
            landmark = Landmark(
                name=station.name,
                kind=station.kind,
                partner_code=station.partner_code,
                distance_m=nearest[0].distance_m,
                direction=compass(bearing_deg(station.lat, station.lon, lat, lon)),
            )
        if code is None and landmark is None:
            return None
        return Place(kelurahan_code=code, kelurahan=self._names.get(code or ""), landmark=landmark)


@cache
def bundle_kelurahan(folder: Path, region_code: str) -> tuple[Area, ...]:
    """The kelurahan of one region bundle folder (none when it ships no kelurahan.geojson)."""
    path = folder / "kelurahan.geojson"
    if not path.is_file():
        return ()
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    return tuple(
        Area(
            code=f["properties"]["code"],
            name=f["properties"]["name"],
            city_code=f["properties"]["area_code"],
            city_name="",
            region_code=region_code,
            geometry=f["geometry"],
        )
        for f in features
    )

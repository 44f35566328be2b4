"""Pure geographic lookups: which area (kecamatan) a point is in, which transit stations are near.

Nothing here touches the database or the clock: indexes are built from plain values
(``Area``, ``Station``) and answer in microseconds, so every process can hold its own copy.
"""

from app.geo.areas import Area, AreaIndex, AreaMatch
from app.geo.distance import haversine_m
from app.geo.stations import Station, StationCandidate, StationIndex

__all__ = [
    "Area",
    "AreaIndex",
    "AreaMatch",
    "Station",
    "StationCandidate",
    "StationIndex",
    "haversine_m",
]

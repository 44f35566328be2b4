"""Great-circle distances and the small-area approximations the indexes use.

In: WGS84 latitudes/longitudes in decimal degrees. Out: metres.
"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8
"""The IUGG mean Earth radius; haversine on this sphere is within 0.5 % of the ellipsoid."""

METRES_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_M / 180.0
"""Metres per degree of latitude on the same sphere (about 111.2 km)."""


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points given in degrees."""
    phi1 = math.radians(lat1)
    phi2 = math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    # min() guards against rounding pushing h a hair above 1 for antipodal points.
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


def is_valid_lat_lon(lat: float, lon: float) -> bool:
    """True for finite coordinates within [-90, 90] x [-180, 180]."""
    finite = math.isfinite(lat) and math.isfinite(lon)
    return finite and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0


def degrees_lon_for(metres: float, lat: float) -> float:
    """How many degrees of longitude span at least `metres` at latitude `lat`.

    Used to size search windows: near the poles a degree of longitude shrinks to nothing, so the
    cosine is floored to keep the window finite (callers fall back to a scan for huge windows).
    """
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    return metres / (METRES_PER_DEGREE_LAT * cos_lat)

"""The region's map for the console: kecamatan outlines simplified for drawing, and stations.

Built once per process from the region bundle (the project's own reference data), so the
console draws its map without online tiles. Outlines are simplified to about 50 m, which is
invisible at the zoom levels of a post's screen and shrinks the payload roughly tenfold.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping, shape

from app.reference.bundle import read_bundle
from app.reference.loader import bundle_dirs

_TOLERANCE_DEG = 0.0005  # about 55 m at Jakarta's latitude
_DECIMALS = 5


def region_map(region_code: str, extra_dirs: tuple[Path, ...]) -> dict[str, Any] | None:
    """The map of ``region_code``, or None when no bundle has that code."""
    return _build(region_code, extra_dirs)


@lru_cache(maxsize=8)
def _build(region_code: str, extra_dirs: tuple[Path, ...]) -> dict[str, Any] | None:
    for folder in bundle_dirs(list(extra_dirs)):
        bundle = read_bundle(folder)
        if bundle.region.code != region_code:
            continue
        areas = []
        for props, geometry in bundle.areas:
            simple = shape(geometry).simplify(_TOLERANCE_DEG, preserve_topology=True)
            rounded = shapely.set_precision(simple, 10**-_DECIMALS)
            areas.append(
                {
                    "code": props.code,
                    "name": props.name,
                    "city_name": props.city_name,
                    "geometry": mapping(rounded),
                }
            )
        stations = [
            {
                "uid": s.uid,
                "name": s.name,
                "kind": s.kind,
                "partner_code": s.partner_code,
                "lat": s.lat,
                "lon": s.lon,
            }
            for s in bundle.stations
        ]
        return {
            "region_code": bundle.region.code,
            "name": bundle.region.name,
            "timezone": bundle.region.timezone,
            "default_post_hours": bundle.region.default_post_hours.model_dump(mode="json"),
            "areas": areas,
            "stations": stations,
        }
    return None

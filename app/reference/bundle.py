"""Reading a region's reference bundle from its folder, with every cross-reference checked.

In: a folder laid out as described in ``app.reference.schema`` (region.json, areas.geojson,
units.json, and optionally partners.json, stations.json, holidays/YYYY.json — a missing optional
file means "none"). Out: a ``RegionBundle`` of validated pydantic models, or a ``ValueError`` whose
message names the file and the offending record. Nothing is written anywhere; the database loader
and the geo indexes are built on top of this.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import shapely
from pydantic import BaseModel, TypeAdapter, ValidationError
from shapely.errors import ShapelyError
from shapely.geometry import shape

from app.geo.areas import Area
from app.geo.stations import Station
from app.reference.schema import (
    AreaProperties,
    HolidaysFile,
    PartnerFile,
    RegionFile,
    StationFile,
    UnitFile,
)

_M = TypeVar("_M", bound=BaseModel)
_YEAR_FILE = re.compile(r"^(\d{4})\.json$")


@dataclass(frozen=True)
class RegionBundle:
    """A region's validated reference data. `areas` pairs each feature's properties with its
    GeoJSON geometry dict (Polygon or MultiPolygon, lon/lat); `holidays` is sorted by year."""

    region: RegionFile
    areas: list[tuple[AreaProperties, dict[str, Any]]]
    partners: list[PartnerFile]
    stations: list[StationFile]
    units: list[UnitFile]
    holidays: list[HolidaysFile]


def shipped_regions_dir() -> Path:
    """The folder holding the region bundles shipped with Sigap (one sub-folder per region)."""
    return Path(__file__).resolve().parent / "regions"


def read_bundle(path: Path) -> RegionBundle:
    """Read and check the bundle in folder `path`; ValueError on anything inconsistent."""
    if not path.is_dir():
        raise ValueError(f"{path}: not a region bundle folder")
    region = _read_model(path / "region.json", RegionFile)
    try:
        ZoneInfo(region.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{path / 'region.json'}: unknown time zone {region.timezone!r}") from exc
    bundle = RegionBundle(
        region=region,
        areas=_read_areas(path / "areas.geojson"),
        partners=_read_list(path / "partners.json", PartnerFile, required=False),
        stations=_read_list(path / "stations.json", StationFile, required=False),
        units=_read_list(path / "units.json", UnitFile, required=True),
        holidays=_read_holidays(path / "holidays"),
    )
    _check_references(bundle, path)
    return bundle


def to_geo_areas(bundle: RegionBundle) -> list[Area]:
    """The bundle's areas as inputs for ``AreaIndex.build``."""
    return [
        Area(
            code=props.code,
            name=props.name,
            city_code=props.city_code,
            city_name=props.city_name,
            region_code=bundle.region.code,
            geometry=geometry,
        )
        for props, geometry in bundle.areas
    ]


def to_geo_stations(bundle: RegionBundle) -> list[Station]:
    """The bundle's stations as inputs for ``StationIndex.build``."""
    return [
        Station(
            uid=s.uid,
            partner_code=s.partner_code,
            name=s.name,
            kind=s.kind,
            lat=s.lat,
            lon=s.lon,
            area_code=s.area_code,
            access_points=tuple((p.lat, p.lon) for p in s.access_points),
        )
        for s in bundle.stations
    ]


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValueError(f"{path}: missing") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not valid UTF-8 JSON ({exc})") from exc


def _read_model(path: Path, model: type[_M]) -> _M:
    try:
        return model.model_validate(_load_json(path))
    except ValidationError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _read_list(path: Path, model: type[_M], *, required: bool) -> list[_M]:
    if not required and not path.exists():
        return []
    try:
        return TypeAdapter(list[model]).validate_python(_load_json(path))  # type: ignore[valid-type]
    except ValidationError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _read_areas(path: Path) -> list[tuple[AreaProperties, dict[str, Any]]]:
    data = _load_json(path)
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ValueError(f"{path}: not a GeoJSON FeatureCollection")
    features = data.get("features")
    if not isinstance(features, list) or not features:
        raise ValueError(f"{path}: no features")
    areas: list[tuple[AreaProperties, dict[str, Any]]] = []
    for n, feature in enumerate(features):
        where = f"{path}: feature {n}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise ValueError(f"{where}: not a GeoJSON Feature")
        try:
            props = AreaProperties.model_validate(feature.get("properties"))
        except ValidationError as exc:
            raise ValueError(f"{where}: {exc}") from exc
        areas.append((props, _checked_geometry(feature.get("geometry"), f"{path}: {props.code}")))
    _no_duplicates([p.code for p, _ in areas], f"{path}: duplicate area codes")
    return areas


def _checked_geometry(geometry: object, where: str) -> dict[str, Any]:
    """`geometry` if it is a non-empty, valid Polygon/MultiPolygon with lon/lat in range."""
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"{where}: geometry must be a Polygon or MultiPolygon")
    try:
        geom = shape(geometry)
    except (KeyError, TypeError, ValueError, IndexError, ShapelyError) as exc:
        raise ValueError(f"{where}: unreadable geometry ({exc})") from exc
    if geom.is_empty or not geom.is_valid:
        raise ValueError(f"{where}: geometry is empty or invalid ({shapely.is_valid_reason(geom)})")
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise ValueError(f"{where}: coordinates out of range (GeoJSON is [lon, lat])")
    return geometry


def _read_holidays(folder: Path) -> list[HolidaysFile]:
    if not folder.exists():
        return []
    years: list[HolidaysFile] = []
    for path in sorted(folder.iterdir()):
        match = _YEAR_FILE.match(path.name)
        if match is None:
            raise ValueError(f"{path}: holiday files are named YYYY.json")
        holidays = _read_model(path, HolidaysFile)
        if holidays.year != int(match.group(1)):
            raise ValueError(f"{path}: says year {holidays.year}")
        stray = [h.date.isoformat() for h in holidays.holidays if h.date.year != holidays.year]
        if stray:
            raise ValueError(f"{path}: dates outside {holidays.year}: {', '.join(stray)}")
        years.append(holidays)
    return years


def _check_references(bundle: RegionBundle, path: Path) -> None:
    """Every code a record mentions must exist, with the right kind."""
    area_codes = {props.code for props, _ in bundle.areas}
    partners = {p.code: p for p in bundle.partners}
    stations = {s.uid: s for s in bundle.stations}
    units = {u.code: u for u in bundle.units}
    _no_duplicates([p.code for p in bundle.partners], f"{path / 'partners.json'}: duplicate codes")
    _no_duplicates([s.uid for s in bundle.stations], f"{path / 'stations.json'}: duplicate uids")
    _no_duplicates([u.code for u in bundle.units], f"{path / 'units.json'}: duplicate codes")

    for s in bundle.stations:
        where = f"{path / 'stations.json'}: station {s.uid}"
        if s.partner_code not in partners:
            raise ValueError(f"{where}: unknown partner {s.partner_code!r}")
        if s.area_code is not None and s.area_code not in area_codes:
            raise ValueError(f"{where}: unknown area {s.area_code!r}")
        points = [(s.lat, s.lon), *((a.lat, a.lon) for a in s.access_points)]
        if not all(_on_earth(lat, lon) for lat, lon in points):
            raise ValueError(f"{where}: coordinate out of range")
        _no_duplicates([a.id for a in s.access_points], f"{where}: duplicate access point ids")

    for u in bundle.units:
        where = f"{path / 'units.json'}: unit {u.code}"
        if u.area_code is not None and u.area_code not in area_codes:
            raise ValueError(f"{where}: unknown area {u.area_code!r}")
        if u.partner_code is not None and u.partner_code not in partners:
            raise ValueError(f"{where}: unknown partner {u.partner_code!r}")
        if u.station_uid is not None:
            station = stations.get(u.station_uid)
            if station is None:
                raise ValueError(f"{where}: unknown station {u.station_uid!r}")
            if station.partner_code != u.partner_code:
                raise ValueError(f"{where}: station {u.station_uid} belongs to another partner")
        if u.kind == "post" and u.area_code is None:
            raise ValueError(f"{where}: a post needs an area_code")
        if u.kind == "transit_desk" and u.partner_code is None:
            raise ValueError(f"{where}: a transit desk needs a partner_code")
        if (u.lat is None) != (u.lon is None):
            raise ValueError(f"{where}: give lat and lon together")
        if u.lat is not None and u.lon is not None and not _on_earth(u.lat, u.lon):
            raise ValueError(f"{where}: coordinate out of range")

    central = units.get(bundle.region.central_desk_code)
    if central is None or central.kind != "central_desk":
        raise ValueError(
            f"{path / 'region.json'}: central_desk_code {bundle.region.central_desk_code!r} "
            "is not a central_desk unit in units.json"
        )
    for p in bundle.partners:
        desk = units.get(p.control_desk_code)
        if desk is None or desk.kind != "transit_desk" or desk.partner_code != p.code:
            raise ValueError(
                f"{path / 'partners.json'}: partner {p.code}: control_desk_code "
                f"{p.control_desk_code!r} is not a transit_desk unit of this partner"
            )


def _on_earth(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


def _no_duplicates(values: list[str], message: str) -> None:
    dupes = sorted(v for v, n in Counter(values).items() if n > 1)
    if dupes:
        raise ValueError(f"{message}: {', '.join(dupes)}")

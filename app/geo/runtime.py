"""The process's geo indexes, built from the reference tables and rebuilt when they change.

Loading reference data bumps ``reference_state.version``; every process checks it periodically
and rebuilds its in-memory indexes, so an operator's import reaches all workers without a restart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import GeoSettings
from app.geo.areas import Area as GeoArea
from app.geo.areas import AreaIndex, AreaMatch
from app.geo.places import Place, PlaceIndex, bundle_kelurahan
from app.geo.stations import Station as GeoStation
from app.geo.stations import StationCandidate, StationIndex
from app.models import Area, ReferenceState, Region, Station


@dataclass(frozen=True)
class Placement:
    """Where a point is: its area (kecamatan) and the transit stations around it."""

    area: AreaMatch
    stations: list[StationCandidate]


class GeoService:
    def __init__(self, settings: GeoSettings) -> None:
        self._settings = settings
        self.version = -1
        self._areas = AreaIndex.build([], tolerance_m={})
        self._stations = StationIndex.build([])
        self._places = PlaceIndex.build([], [])
        self.area_names: dict[str, str] = {}
        self.region_codes: set[str] = set()
        self.timezones: dict[str, ZoneInfo] = {}
        """Region code -> its time zone (a notification budget's day is the region's day)."""

    async def refresh(self, session: AsyncSession, *, force: bool = False) -> bool:
        """Rebuild the indexes if the reference data changed; True when it did."""
        version = await session.scalar(select(ReferenceState.version).where(ReferenceState.id == 1))
        if version is None or (version == self.version and not force):
            return False
        regions = (await session.scalars(select(Region))).all()
        tolerance = {r.code: r.outside_tolerance_m for r in regions}
        areas = (await session.scalars(select(Area).order_by(Area.code))).all()
        stations = (await session.scalars(select(Station).order_by(Station.uid))).all()
        self._areas = AreaIndex.build(
            [
                GeoArea(
                    code=a.code,
                    name=a.name,
                    city_code=a.city_code,
                    city_name=a.city_name,
                    region_code=a.region_code,
                    geometry=a.geometry,
                )
                for a in areas
            ],
            tolerance_m=tolerance,
        )
        indexed = [
            GeoStation(
                uid=s.uid,
                partner_code=s.partner_code,
                name=s.name,
                kind=s.kind,
                lat=s.lat,
                lon=s.lon,
                area_code=s.area_code,
                access_points=tuple((p["lat"], p["lon"]) for p in s.access_points),
            )
            for s in stations
        ]
        self._stations = StationIndex.build(indexed)
        self._places = PlaceIndex.build(self._kelurahan(set(tolerance)), indexed)
        self.area_names = {a.code: a.name for a in areas}
        self.region_codes = set(tolerance)
        self.timezones = {r.code: ZoneInfo(r.timezone) for r in regions}
        self.version = version
        return True

    def _kelurahan(self, regions: set[str]) -> list[GeoArea]:
        """The loaded regions' kelurahan, from their bundle folders (descriptive only)."""
        from app.reference.bundle import shipped_regions_dir

        folders = [*sorted(shipped_regions_dir().iterdir()), *self._settings.extra_region_dirs]
        found: list[GeoArea] = []
        for folder in folders:
            region = folder / "region.json"
            code = json.loads(region.read_text("utf-8"))["code"] if region.is_file() else None
            if code in regions:
                found.extend(bundle_kelurahan(folder, code))
        return found

    def describe(self, lat: float | None, lon: float | None) -> Place | None:
        """The point in words: its kelurahan and the nearest station (``app.geo.places``)."""
        return self._places.describe(lat, lon)

    def place(self, lat: float, lon: float, accuracy_m: float | None) -> Placement:
        settings = self._settings
        return Placement(
            area=self._areas.locate(lat, lon),
            stations=self._stations.nearby(
                lat,
                lon,
                accuracy_m,
                search_radius_m=settings.station_search_radius_m,
                at_station_radius_m=settings.at_station_radius_m,
                max_accuracy_m=settings.max_station_accuracy_m,
            ),
        )

"""Loading region bundles into the database.

``load_region`` refreshes a region's areas, partners, stations and holidays from its bundle and
adds units that do not exist yet; units already in the database keep the operator's edits unless
``replace_units`` is set. ``import_units`` upserts an operator's own unit file. Every load bumps
``reference_state.version`` so running processes rebuild their geo indexes.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import TypeAdapter
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Area, Holiday, Partner, ReferenceState, Region, Station, Unit
from app.reference.bundle import RegionBundle, read_bundle, shipped_regions_dir
from app.reference.schema import UnitFile


@dataclass
class LoadReport:
    region: str
    areas: int
    partners: int
    stations: int
    holidays: int
    units_added: int
    units_updated: int


def bundle_dirs(extra: list[Path]) -> list[Path]:
    shipped = sorted(p for p in shipped_regions_dir().iterdir() if (p / "region.json").is_file())
    return shipped + list(extra)


async def load_region(
    session: AsyncSession, bundle: RegionBundle, *, now: datetime, replace_units: bool = False
) -> LoadReport:
    r = bundle.region
    await session.merge(
        Region(
            code=r.code,
            name=r.name,
            province_code=r.province_code,
            timezone=r.timezone,
            data_version=r.data_version,
            central_desk_code=r.central_desk_code,
            outside_tolerance_m=r.outside_tolerance_m,
            default_post_hours=r.default_post_hours.model_dump(mode="json"),
            loaded_at=now,
        )
    )
    await session.flush()
    for props, geometry in bundle.areas:
        await session.merge(
            Area(
                code=props.code,
                region_code=r.code,
                name=props.name,
                alt_names=list(props.alt_names),
                city_code=props.city_code,
                city_name=props.city_name,
                geometry=geometry,
            )
        )
    for p in bundle.partners:
        await session.merge(
            Partner(
                code=p.code,
                region_code=r.code,
                name=p.name,
                modes=list(p.modes),
                phones=list(p.phones),
                email=p.email,
                website=p.website,
                operating_hours=p.operating_hours.model_dump(mode="json"),
                control_desk_code=p.control_desk_code,
            )
        )
    await session.flush()
    await session.execute(delete(Station).where(Station.region_code == r.code))
    session.add_all(
        Station(
            uid=s.uid,
            partner_code=s.partner_code,
            region_code=r.code,
            name=s.name,
            kind=s.kind,
            lat=s.lat,
            lon=s.lon,
            area_code=s.area_code,
            access_points=[a.model_dump(mode="json") for a in s.access_points],
        )
        for s in bundle.stations
    )
    await session.execute(delete(Holiday).where(Holiday.region_code == r.code))
    holidays = [h for year in bundle.holidays for h in year.holidays]
    session.add_all(Holiday(region_code=r.code, day=h.date, name=h.name) for h in holidays)
    added, updated = await _upsert_units(
        session, bundle.units, region_code=r.code, now=now, overwrite=replace_units
    )
    await bump_version(session, now=now)
    return LoadReport(
        region=r.code,
        areas=len(bundle.areas),
        partners=len(bundle.partners),
        stations=len(bundle.stations),
        holidays=len(holidays),
        units_added=added,
        units_updated=updated,
    )


async def import_units(
    session: AsyncSession, path: Path, *, region_code: str, now: datetime
) -> tuple[int, int]:
    """Upsert the units of an operator's JSON file (a list of unit objects, as in units.json)."""
    raw = await asyncio.to_thread(path.read_bytes)
    units = TypeAdapter(list[UnitFile]).validate_json(raw)
    known_areas = set((await session.scalars(select(Area.code))).all())
    known_partners = set((await session.scalars(select(Partner.code))).all())
    for unit in units:
        if unit.area_code is not None and unit.area_code not in known_areas:
            raise ValueError(f"unit {unit.code}: unknown area {unit.area_code}")
        if unit.partner_code is not None and unit.partner_code not in known_partners:
            raise ValueError(f"unit {unit.code}: unknown partner {unit.partner_code}")
    result = await _upsert_units(session, units, region_code=region_code, now=now, overwrite=True)
    await bump_version(session, now=now)
    return result


async def _upsert_units(
    session: AsyncSession,
    units: list[UnitFile],
    *,
    region_code: str,
    now: datetime,
    overwrite: bool,
) -> tuple[int, int]:
    existing = {u.code: u for u in (await session.scalars(select(Unit))).all()}
    added = updated = 0
    for data in units:
        values = {
            "region_code": region_code,
            "kind": data.kind,
            "name": data.name,
            "area_code": data.area_code,
            "partner_code": data.partner_code,
            "station_uid": data.station_uid,
            "address": data.address,
            "lat": data.lat,
            "lon": data.lon,
            "phones": list(data.phones),
            "hours": data.hours.model_dump(mode="json") if data.hours else None,
            "verified": data.verified,
            "takes_drills": data.takes_drills,
            "source": data.source,
            "updated_at": now,
        }
        unit = existing.get(data.code)
        if unit is None:
            session.add(Unit(id=uuid.uuid4(), code=data.code, active=True, **values))
            added += 1
        elif overwrite:
            for name, value in values.items():
                setattr(unit, name, value)
            updated += 1
    await session.flush()
    return added, updated


async def bump_version(session: AsyncSession, *, now: datetime) -> None:
    state = await session.get(ReferenceState, 1)
    if state is None:
        session.add(ReferenceState(id=1, version=1, updated_at=now))
    else:
        state.version += 1
        state.updated_at = now
    await session.flush()


async def load_all(
    session: AsyncSession, *, extra_dirs: list[Path], now: datetime, replace_units: bool = False
) -> list[LoadReport]:
    return [
        await load_region(session, read_bundle(path), now=now, replace_units=replace_units)
        for path in bundle_dirs(extra_dirs)
    ]


async def is_loaded(session: AsyncSession) -> bool:
    return (
        await session.scalar(select(ReferenceState.version).where(ReferenceState.id == 1))
        is not None
    )

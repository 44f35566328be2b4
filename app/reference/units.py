"""Reading and editing responding units (operators replace placeholder posts without code)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound, ValidationFailed
from app.models import Unit
from app.pagination import Cursor
from app.reference.loader import bump_version
from app.schemas.units import UnitRead, UnitUpdate


def to_read(unit: Unit) -> UnitRead:
    return UnitRead(
        code=unit.code,
        kind=unit.kind,
        name=unit.name,
        region_code=unit.region_code,
        area_code=unit.area_code,
        partner_code=unit.partner_code,
        station_uid=unit.station_uid,
        address=unit.address,
        lat=unit.lat,
        lon=unit.lon,
        phones=list(unit.phones),
        hours=unit.hours,
        verified=unit.verified,
        takes_drills=unit.takes_drills,
        active=unit.active,
    )


async def list_units(
    session: AsyncSession, *, kind: str | None, limit: int, cursor: Cursor | None
) -> tuple[list[UnitRead], Cursor | None]:
    query = select(Unit).order_by(Unit.code)
    if kind is not None:
        query = query.where(Unit.kind == kind)
    if cursor is not None:
        query = query.where(Unit.code > cursor.value)
    units = (await session.scalars(query.limit(limit + 1))).all()
    page = [to_read(u) for u in units[:limit]]
    return page, Cursor(page[-1].code) if len(units) > limit else None


async def get_unit(session: AsyncSession, code: str) -> Unit:
    unit = await session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise NotFound()
    return unit


async def update_unit(session: AsyncSession, *, code: str, data: UnitUpdate, now: datetime) -> Unit:
    unit = await get_unit(session, code)
    changes = data.model_dump(exclude_unset=True, mode="json")
    if ("lat" in changes) != ("lon" in changes):
        raise ValidationFailed(
            "Send lat and lon together.",
            extra={"errors": [{"loc": ["body", "lat"], "msg": "lat and lon go together"}]},
        )
    for name, value in changes.items():
        setattr(unit, name, value)
    unit.updated_at = now
    # The edit moves the reference version, in its own transaction: every process's routing
    # cache sees it at its next decision. The newest ``updated_at`` alone would not do when the
    # editing hosts' clocks differ: an edit stamped behind an earlier one changes nothing there.
    await bump_version(session, now=now)
    return unit

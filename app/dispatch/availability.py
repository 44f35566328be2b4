"""Who can respond right now: a region's units with their hours and on-duty members.

In: the database (units, partners, holidays, rosters) and a moment. Out: the plain values the pure
routing core takes. On duty = a roster shift covering the moment, for an enabled account, and —
once live presence is plugged in — a console seen recently (``PresenceSource``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.dispatch.hours import OpeningHours
from app.dispatch.routing import Member, PartnerState, UnitState
from app.models import Holiday, Partner, Region, Shift, StaffUser, Unit


class PresenceSource(Protocol):
    """Live console presence. ``None`` means "not known": rosters alone decide."""

    async def present(self, staff_ids: set[uuid.UUID]) -> set[uuid.UUID] | None: ...


class RosterOnly:
    """No live presence yet: everyone rostered counts as on duty."""

    async def present(self, staff_ids: set[uuid.UUID]) -> set[uuid.UUID] | None:
        return None


@dataclass(frozen=True)
class RegionSnapshot:
    region: Region
    zone: ZoneInfo
    units: list[UnitState]
    unit_ids: dict[str, uuid.UUID]
    partners: dict[str, PartnerState]
    holidays: frozenset[date]
    members: dict[str, list[uuid.UUID]]
    """Unit code -> staff on duty (for notifications)."""

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)


async def on_duty(
    session: AsyncSession, *, unit_ids: list[uuid.UUID], at: datetime, presence: PresenceSource
) -> dict[uuid.UUID, list[StaffUser]]:
    """Unit id -> enabled staff whose shift covers ``at`` (and who are present, when known)."""
    rows = (
        await session.execute(
            select(Shift.unit_id, StaffUser)
            .join(StaffUser, StaffUser.id == Shift.staff_id)
            .where(
                Shift.unit_id.in_(unit_ids),
                Shift.starts_at <= at,
                Shift.ends_at > at,
                StaffUser.disabled_at.is_(None),
            )
            .order_by(StaffUser.username)
        )
    ).all()
    present = await presence.present({staff.id for _, staff in rows})
    result: dict[uuid.UUID, list[StaffUser]] = {}
    for unit_id, staff in rows:
        if present is not None and staff.id not in present:
            continue
        members = result.setdefault(unit_id, [])
        if all(m.id != staff.id for m in members):  # overlapping shifts count once
            members.append(staff)
    return result


async def region_snapshot(
    session: AsyncSession, *, region_code: str, at: datetime, presence: PresenceSource
) -> RegionSnapshot:
    region = await session.get(Region, region_code)
    if region is None:
        raise LookupError(f"region {region_code!r} is not loaded")
    zone = ZoneInfo(region.timezone)
    default_hours = OpeningHours.from_json(region.default_post_hours)
    units = (
        await session.scalars(
            select(Unit).where(Unit.region_code == region_code).order_by(Unit.code)
        )
    ).all()
    partners = (
        await session.scalars(select(Partner).where(Partner.region_code == region_code))
    ).all()
    local_year = at.astimezone(zone).year
    holidays = (
        await session.scalars(
            select(Holiday.day).where(
                Holiday.region_code == region_code,
                Holiday.day >= date(local_year - 1, 12, 1),
                Holiday.day <= date(local_year + 1, 1, 31),
            )
        )
    ).all()
    staff = await on_duty(session, unit_ids=[u.id for u in units], at=at, presence=presence)
    states = [
        UnitState(
            code=u.code,
            kind=u.kind,  # type: ignore[arg-type]
            lat=u.lat,
            lon=u.lon,
            area_code=u.area_code,
            partner_code=u.partner_code,
            station_uid=u.station_uid,
            hours=OpeningHours.from_json(
                u.hours, default=default_hours if u.kind == "post" else OpeningHours.ALWAYS
            ),
            on_duty=tuple(Member(staff_id=str(m.id), sex=m.sex) for m in staff.get(u.id, [])),
            takes_drills=u.takes_drills,
            active=u.active,
        )
        for u in units
    ]
    return RegionSnapshot(
        region=region,
        zone=zone,
        units=states,
        unit_ids={u.code: u.id for u in units},
        partners={
            p.code: PartnerState(
                code=p.code,
                control_desk_code=p.control_desk_code,
                operating_hours=OpeningHours.from_json(p.operating_hours),
            )
            for p in partners
        },
        holidays=frozenset(holidays),
        members={u.code: [m.id for m in staff.get(u.id, [])] for u in units},
    )

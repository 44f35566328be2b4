"""Who can respond right now: a region's units with their hours and on-duty members.

In: the database (units, partners, holidays, rosters) and a moment. Out: the plain values the pure
routing core takes. On duty = a roster shift covering the moment, for an enabled account, and —
once live presence is plugged in — a console seen recently (``PresenceSource``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.dispatch.hours import OpeningHours
from app.dispatch.routing import Member, PartnerState, UnitState
from app.models import Holiday, Partner, ReferenceState, Region, Shift, StaffUser, Unit


class PresenceSource(Protocol):
    """Live console presence. ``None`` means "not known": rosters alone decide."""

    async def present(
        self, session: AsyncSession, staff_ids: set[uuid.UUID], at: datetime
    ) -> set[uuid.UUID] | None: ...


class RosterOnly:
    """No live presence yet: everyone rostered counts as on duty."""

    async def present(
        self, session: AsyncSession, staff_ids: set[uuid.UUID], at: datetime
    ) -> set[uuid.UUID] | None:
        return None


@dataclass(frozen=True)
class RegionStatic:
    """What changes only when an operator edits reference data: cached per process."""

    code: str
    zone: ZoneInfo
    central_code: str
    units: tuple[UnitState, ...]
    """Hours, coordinates and flags; ``on_duty`` is filled per decision."""
    unit_ids: dict[str, uuid.UUID]
    partners: dict[str, PartnerState]
    holidays: frozenset[date]


@dataclass(frozen=True)
class RegionSnapshot:
    static: RegionStatic
    units: list[UnitState]
    members: dict[str, list[uuid.UUID]]
    """Unit code -> staff on duty (for notifications)."""

    @property
    def central_code(self) -> str:
        return self.static.central_code

    @property
    def unit_ids(self) -> dict[str, uuid.UUID]:
        return self.static.unit_ids

    @property
    def partners(self) -> dict[str, PartnerState]:
        return self.static.partners

    @property
    def holidays(self) -> frozenset[date]:
        return self.static.holidays

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.static.zone)


class SnapshotCache:
    """Region reference data by region, rebuilt when a load or a unit edit changes its stamp
    (reference version, newest unit edit, unit count): one small query instead of four."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[tuple[object, ...], RegionStatic]] = {}

    async def get(self, session: AsyncSession, region_code: str) -> RegionStatic:
        stamp_row = (
            await session.execute(
                select(
                    select(ReferenceState.version).where(ReferenceState.id == 1).scalar_subquery(),
                    func.max(Unit.updated_at),
                    func.count(Unit.id),
                ).where(Unit.region_code == region_code)
            )
        ).one()
        stamp = tuple(stamp_row)
        cached = self._entries.get(region_code)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        static = await _load_static(session, region_code)
        self._entries[region_code] = (stamp, static)
        return static


@dataclass(frozen=True)
class OnDutyMember:
    id: uuid.UUID
    username: str
    sex: str | None


async def on_duty(
    session: AsyncSession, *, unit_ids: list[uuid.UUID], at: datetime, presence: PresenceSource
) -> dict[uuid.UUID, list[OnDutyMember]]:
    """Unit id -> enabled staff whose shift covers ``at`` (and who are present, when known)."""
    rows = (
        await session.execute(
            select(Shift.unit_id, StaffUser.id, StaffUser.username, StaffUser.sex)
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
    present = await presence.present(session, {row.id for row in rows}, at)
    result: dict[uuid.UUID, list[OnDutyMember]] = {}
    for unit_id, staff_id, username, sex in rows:
        if present is not None and staff_id not in present:
            continue
        members = result.setdefault(unit_id, [])
        if all(m.id != staff_id for m in members):  # overlapping shifts count once
            members.append(OnDutyMember(id=staff_id, username=username, sex=sex))
    return result


async def _load_static(session: AsyncSession, region_code: str) -> RegionStatic:
    region = await session.get(Region, region_code)
    if region is None:
        raise LookupError(f"region {region_code!r} is not loaded")
    default_hours = OpeningHours.from_json(region.default_post_hours)
    units = (
        await session.scalars(
            select(Unit).where(Unit.region_code == region_code).order_by(Unit.code)
        )
    ).all()
    partners = (
        await session.scalars(select(Partner).where(Partner.region_code == region_code))
    ).all()
    holidays = (
        await session.scalars(select(Holiday.day).where(Holiday.region_code == region_code))
    ).all()
    return RegionStatic(
        code=region.code,
        zone=ZoneInfo(region.timezone),
        central_code=region.central_desk_code,
        units=tuple(
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
                on_duty=(),
                takes_drills=u.takes_drills,
                active=u.active,
            )
            for u in units
        ),
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
    )


async def region_snapshot(
    session: AsyncSession,
    *,
    region_code: str,
    at: datetime,
    presence: PresenceSource,
    cache: SnapshotCache,
) -> RegionSnapshot:
    static = await cache.get(session, region_code)
    staff = await on_duty(
        session, unit_ids=list(static.unit_ids.values()), at=at, presence=presence
    )
    by_code = {code: staff.get(unit_id, []) for code, unit_id in static.unit_ids.items()}
    return RegionSnapshot(
        static=static,
        units=[
            replace(
                u,
                on_duty=tuple(Member(staff_id=str(m.id), sex=m.sex) for m in by_code[u.code]),
            )
            for u in static.units
        ],
        members={code: [m.id for m in members] for code, members in by_code.items()},
    )

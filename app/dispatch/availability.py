"""Who can respond right now: a region's units with their hours and on-duty members.

In: the database (units, partners, holidays, rosters) and a moment. Out: the plain values the pure
routing core takes. On duty = a shift covering the moment, for an enabled account: an *on-call*
shift counts console or not (the notifier reaches the person); an *at-post* shift counts while
their console was seen recently, when live presence is plugged in (``PresenceSource``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.dispatch.hours import OpeningHours
from app.dispatch.routing import Member, PartnerState, UnitState
from app.models import Area, Holiday, Partner, ReferenceState, Region, Shift, StaffUser, Unit


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
    area_names: dict[str, str] = field(default_factory=dict)
    """Kecamatan code -> name: the one place an on-call message may name."""


@dataclass(frozen=True)
class RegionSnapshot:
    static: RegionStatic
    units: list[UnitState]
    members: dict[str, list[uuid.UUID]]
    """Unit code -> staff on duty."""
    reach: dict[str, list[uuid.UUID]] = field(default_factory=dict)
    """Unit code -> the on-duty staff an offer must reach through the notifier: those without a
    live console (everyone, when presence is not known)."""
    modes: dict[str, dict[str, int]] = field(default_factory=dict)
    """Unit code -> how many count as available at the post and on call (for the explanation)."""

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

    def area_name(self, code: str | None) -> str | None:
        return self.static.area_names.get(code) if code else None

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.static.zone)


class SnapshotCache:
    """Region reference data by region, rebuilt when a load or a unit edit changes its stamp
    (reference version, which both bump, newest unit edit, unit count): one small query instead
    of four."""

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
    mode: str = "at_post"
    """How they count: "at_post" (present at a console, or rosters alone decide) or "on_call"
    (an on-call shift and no live console seen)."""
    live: bool | None = None
    """A console seen recently; None when presence is not known."""


async def on_duty(
    session: AsyncSession, *, unit_ids: list[uuid.UUID], at: datetime, presence: PresenceSource
) -> dict[uuid.UUID, list[OnDutyMember]]:
    """Unit id -> enabled staff whose shift covers ``at``: on-call shifts always, at-post shifts
    only while present (when presence is known)."""
    rows = (
        await session.execute(
            select(Shift.unit_id, StaffUser.id, StaffUser.username, StaffUser.sex, Shift.kind)
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
    found: dict[tuple[uuid.UUID, uuid.UUID], OnDutyMember] = {}
    for unit_id, staff_id, username, sex, kind in rows:
        live = None if present is None else staff_id in present
        if kind != "on_call" and live is False:
            continue  # at the post, and no console open: not reachable
        mode = "on_call" if kind == "on_call" and not live else "at_post"
        key = (unit_id, staff_id)
        known = found.get(key)
        # Overlapping shifts count once; at the post wins (a console rings, no message needed).
        if known is None or (known.mode == "on_call" and mode == "at_post"):
            found[key] = OnDutyMember(staff_id, username, sex, mode=mode, live=live)
    result: dict[uuid.UUID, list[OnDutyMember]] = {}
    for (unit_id, _), member in found.items():  # rows came ordered by username
        result.setdefault(unit_id, []).append(member)
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
    areas = (
        await session.execute(select(Area.code, Area.name).where(Area.region_code == region_code))
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
        area_names={code: name for code, name in areas},
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
        reach={
            code: [m.id for m in members if m.live is not True]
            for code, members in by_code.items()
        },
        modes={
            code: {
                "at_post": sum(1 for m in members if m.mode == "at_post"),
                "on_call": sum(1 for m in members if m.mode == "on_call"),
            }
            for code, members in by_code.items()
            if members
        },
    )

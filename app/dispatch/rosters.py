"""Rosters: who is on duty for which unit, when. The dispatcher offers alerts only to units with
someone on duty; supervisors and admins manage shifts, unit staff read their own unit's."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import StaffPrincipal
from app.dispatch.availability import PresenceSource, RosterOnly, on_duty
from app.dispatch.hours import OpeningHours
from app.errors import Forbidden, NotFound, ValidationFailed
from app.models import Holiday, Partner, Region, Shift, StaffUser, Unit
from app.policy.roles import PROVINCE_WIDE_ROLES
from app.schemas.dispatch import OnDutyRead, ShiftCreate, ShiftRead


async def unit_for(session: AsyncSession, code: str, staff: StaffPrincipal) -> Unit:
    unit = await session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise NotFound()
    if staff.role not in PROVINCE_WIDE_ROLES and unit.id != staff.unit_id:
        raise NotFound()
    return unit


def _read(shift: Shift, unit_code: str, username: str) -> ShiftRead:
    return ShiftRead(
        id=shift.id,
        unit_code=unit_code,
        staff_id=shift.staff_id,
        username=username,
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
        kind="on_call" if shift.kind == "on_call" else "at_post",
    )


async def add_shift(
    session: AsyncSession,
    *,
    unit: Unit,
    data: ShiftCreate,
    by: StaffPrincipal | None,
    now: datetime,
) -> ShiftRead:
    """``by`` None: an operator at the command line (``sigap shift add``)."""
    if by is not None and by.role not in PROVINCE_WIDE_ROLES:
        raise Forbidden("Rosters are managed by supervisors and admins.")
    user = await session.scalar(select(StaffUser).where(StaffUser.username == data.username))
    if user is None or user.disabled_at is not None:
        raise ValidationFailed(
            f"No active staff account {data.username!r}.",
            extra={"errors": [{"loc": ["body", "username"], "msg": "unknown or disabled"}]},
        )
    if user.unit_id != unit.id and user.role not in PROVINCE_WIDE_ROLES:
        raise ValidationFailed(
            f"{data.username} is not a member of {unit.code}.",
            extra={"errors": [{"loc": ["body", "username"], "msg": "not in this unit"}]},
        )
    shift = Shift(
        id=uuid.uuid4(),
        unit_id=unit.id,
        staff_id=user.id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        kind=data.kind,
        created_at=now,
        created_by=by.user_id if by is not None else None,
    )
    session.add(shift)
    await session.flush()
    return _read(shift, unit.code, user.username)


async def list_shifts(
    session: AsyncSession, *, unit: Unit, start: datetime, end: datetime
) -> list[ShiftRead]:
    rows = (
        await session.execute(
            select(Shift, StaffUser.username)
            .join(StaffUser, StaffUser.id == Shift.staff_id)
            .where(Shift.unit_id == unit.id, Shift.ends_at > start, Shift.starts_at < end)
            .order_by(Shift.starts_at, StaffUser.username)
            .limit(500)
        )
    ).all()
    return [_read(shift, unit.code, username) for shift, username in rows]


async def delete_shift(session: AsyncSession, *, shift_id: uuid.UUID, by: StaffPrincipal) -> Shift:
    if by.role not in PROVINCE_WIDE_ROLES:
        raise Forbidden("Rosters are managed by supervisors and admins.")
    shift = await session.get(Shift, shift_id)
    if shift is None:
        raise NotFound()
    await session.delete(shift)
    return shift


async def who_is_on_duty(
    session: AsyncSession,
    *,
    unit: Unit,
    at: datetime,
    presence: PresenceSource,
    live: PresenceSource,
) -> OnDutyRead:
    """``presence`` is what routing uses; ``live`` always reads consoles (to show who is on)."""
    members = (await on_duty(session, unit_ids=[unit.id], at=at, presence=presence)).get(
        unit.id, []
    )
    rostered = (await on_duty(session, unit_ids=[unit.id], at=at, presence=RosterOnly())).get(
        unit.id, []
    )
    seen = await live.present(session, {m.id for m in rostered}, at)
    region = await session.get(Region, unit.region_code)
    assert region is not None
    hours = await _hours(session, unit, region)
    local = at.astimezone(ZoneInfo(region.timezone))
    holidays = set(
        (
            await session.scalars(
                select(Holiday.day).where(
                    Holiday.region_code == region.code, Holiday.day == local.date()
                )
            )
        ).all()
    )
    return OnDutyRead(
        unit_code=unit.code,
        at=at,
        open=all(h.is_open(local, holidays) for h in hours),
        rostered=[m.username for m in rostered],
        present=[m.username for m in rostered if seen is not None and m.id in seen],
        members=[m.username for m in members],
        on_call=[m.username for m in members if m.mode == "on_call"],
    )


async def _hours(session: AsyncSession, unit: Unit, region: Region) -> list[OpeningHours]:
    """Every timetable that must be open for the unit to be: as the routing core judges it (a
    station help desk keeps its own hours *and* its line's)."""
    if unit.kind == "post":
        return [
            OpeningHours.from_json(
                unit.hours, default=OpeningHours.from_json(region.default_post_hours)
            )
        ]
    hours = [OpeningHours.from_json(unit.hours)]
    if unit.kind == "transit_desk" and unit.station_uid and unit.partner_code:
        partner = await session.get(Partner, unit.partner_code)
        if partner is not None:
            hours.append(OpeningHours.from_json(partner.operating_hours))
    return hours

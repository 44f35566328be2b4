"""``sigap units …`` and ``sigap shift …``: rosters and units for operators who script.

sigap units list [--kind KIND] [--find TEXT]        code, kind, name, hours, active
sigap units hours CODE (--always-open | --office)   a post's opening hours
sigap shift add UNIT USERNAME [--from T] [--hours N | --to T] [--kind at_post|on_call]
                                                    put someone on duty
sigap shift list UNIT                               this week's shifts
sigap shift end SHIFT_ID                            remove a shift
sigap drill UNIT                                    a drill press at the unit's location

The same services as the API do the work, so the same rules hold (a shift is for a member of
the unit, at most 7 days, ends after it starts); each change is audited as the operator's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.errors import DomainError

_OFFICE = {
    "always_open": False,
    "closed_on_holidays": True,
    "weekly": {d: [["08:00", "16:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
}


def _run(settings: Settings, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    async def body() -> Any:
        engine = create_engine(settings, pool_size=1)
        try:
            async with create_sessionmaker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(body())


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _hours_text(hours: dict[str, Any] | None) -> str:
    if not hours:
        return "region default"
    if hours.get("always_open"):
        return "always open"
    days = hours.get("weekly", {})
    return "; ".join(f"{d} {' '.join(f'{a}-{b}' for a, b in v)}" for d, v in days.items())


def cmd_units_list(args: argparse.Namespace, settings: Settings) -> int:
    from app.models import Unit

    async def work(session: AsyncSession) -> list[Unit]:
        query = select(Unit).order_by(Unit.code)
        if args.kind:
            query = query.where(Unit.kind == args.kind)
        return list((await session.scalars(query)).all())

    needle = (args.find or "").lower()
    for unit in _run(settings, work):
        if needle and needle not in unit.name.lower() and needle not in unit.code:
            continue
        state = "" if unit.active else "  (inactive)"
        print(f"{unit.code:<14} {unit.kind:<13} {unit.name}  [{_hours_text(unit.hours)}]{state}")
    return 0


def cmd_units_hours(args: argparse.Namespace, settings: Settings) -> int:
    from app.audit import record
    from app.reference.units import update_unit
    from app.schemas.units import UnitUpdate

    hours = {"always_open": True, "closed_on_holidays": False, "weekly": {}}
    if args.office:
        hours = _OFFICE
    now = datetime.now(UTC)

    async def work(session: AsyncSession) -> None:
        unit = await update_unit(
            session, code=args.code, data=UnitUpdate.model_validate({"hours": hours}), now=now
        )
        record(session, principal=None, action="unit.update", object_type="unit",
               object_id=unit.id, at=now, detail={"fields": ["hours"], "via": "cli"})

    try:
        _run(settings, work)
    except DomainError as exc:
        return _fail(f"{args.code}: {exc.detail}")
    print(f"{args.code}: {_hours_text(hours)}")
    return 0


def _when(text: str | None, default: datetime) -> datetime:
    if text is None:
        return default
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone (add Z or +07:00)")
    return value


def cmd_shift_add(args: argparse.Namespace, settings: Settings) -> int:
    from app.audit import record
    from app.dispatch.rosters import add_shift
    from app.models import Unit
    from app.schemas.dispatch import ShiftCreate, ShiftRead

    now = datetime.now(UTC)
    try:
        starts = _when(args.starts, now)
        ends = _when(args.ends, starts + timedelta(hours=args.hours))
        data = ShiftCreate(
            username=args.username, starts_at=starts, ends_at=ends, kind=args.shift_kind
        )
    except (ValueError, ValidationError) as exc:
        return _fail(str(exc).splitlines()[-1] if isinstance(exc, ValidationError) else str(exc))

    async def work(session: AsyncSession) -> ShiftRead:
        unit = await session.scalar(select(Unit).where(Unit.code == args.unit))
        if unit is None:
            raise DomainError(f"no unit {args.unit!r} (see `sigap units list`)")
        shift = await add_shift(session, unit=unit, data=data, by=None, now=now)
        record(session, principal=None, action="shift.create", object_type="shift",
               object_id=shift.id, at=now, detail={"unit": unit.code, "via": "cli"})
        return shift

    try:
        shift = _run(settings, work)
    except DomainError as exc:
        return _fail(exc.detail)
    print(f"shift {shift.id}: {shift.username} at {shift.unit_code} ({shift.kind}) "
          f"{shift.starts_at.isoformat()} -> {shift.ends_at.isoformat()}")
    return 0


def cmd_shift_list(args: argparse.Namespace, settings: Settings) -> int:
    from app.models import Shift, StaffUser, Unit

    now = datetime.now(UTC)

    async def work(session: AsyncSession) -> list[Any]:
        rows = await session.execute(
            select(Shift, StaffUser.username)
            .join(Unit, Unit.id == Shift.unit_id)
            .join(StaffUser, StaffUser.id == Shift.staff_id)
            .where(Unit.code == args.unit, Shift.ends_at > now,
                   Shift.starts_at < now + timedelta(days=7))
            .order_by(Shift.starts_at)
        )
        return list(rows.all())

    for shift, username in _run(settings, work):
        print(f"{shift.id}  {username:<24} {shift.kind:<8} {shift.starts_at.isoformat()} -> "
              f"{shift.ends_at.isoformat()}")
    return 0


def cmd_shift_end(args: argparse.Namespace, settings: Settings) -> int:
    from app.audit import record
    from app.models import Shift

    try:
        shift_id = uuid.UUID(args.shift_id)
    except ValueError:
        return _fail(f"{args.shift_id!r} is not a shift id")
    now = datetime.now(UTC)

    async def work(session: AsyncSession) -> bool:
        shift = await session.get(Shift, shift_id)
        if shift is None:
            return False
        await session.delete(shift)
        record(session, principal=None, action="shift.delete", object_type="shift",
               object_id=shift_id, at=now, detail={"via": "cli"})
        return True

    if not _run(settings, work):
        return _fail(f"no shift {shift_id}")
    print(f"shift {shift_id} removed")
    return 0


def cmd_drill(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from app.drills import start_drill
    from app.geo.runtime import GeoService
    from app.ingestion.press import PressResult
    from app.reference.units import get_unit
    from app.security.fields import KeyRing

    async def work(session: AsyncSession) -> PressResult:
        geo = GeoService(settings.geo)
        await geo.refresh(session, force=True)
        unit = await get_unit(session, args.unit)
        return await start_drill(
            session,
            unit=unit,
            by=None,
            settings=settings,
            geo=geo,
            keyring=KeyRing(settings.effective_encryption_keys),
            now=datetime.now(UTC),
        )

    try:
        result = _run(settings, work)
    except DomainError as exc:
        return _fail(f"{args.unit}: {exc.detail}")
    print(f"drill {json.loads(result.body)['case_code']} (alert {result.alert_id}) at {args.unit}")
    return 0


def add_parsers(sub: Any, units: Any) -> None:
    """Registers the commands on the ``sigap`` parser (``units`` is its units sub-parsers)."""
    listing = units.add_parser("list", help="list units (posts, central desk, transit desks)")
    listing.add_argument("--kind", choices=("post", "central_desk", "transit_desk"))
    listing.add_argument("--find", help="part of the name or code")
    listing.set_defaults(func=cmd_units_list)
    hours = units.add_parser("hours", help="set a unit's opening hours")
    hours.add_argument("code")
    which = hours.add_mutually_exclusive_group(required=True)
    which.add_argument("--always-open", action="store_true", help="24/7, holidays included")
    which.add_argument("--office", action="store_true", help="08:00-16:00 Mon-Fri, not holidays")
    hours.set_defaults(func=cmd_units_hours)

    shift = sub.add_parser("shift", help="rosters: who is on duty").add_subparsers(
        dest="action", required=True
    )
    add = shift.add_parser("add", help="put a member of a unit on duty")
    add.add_argument("unit")
    add.add_argument("username")
    add.add_argument("--from", dest="starts", help="start, ISO 8601 with zone (default: now)")
    group = add.add_mutually_exclusive_group()
    group.add_argument("--to", dest="ends", help="end, ISO 8601 with zone")
    group.add_argument("--hours", type=float, default=8.0, help="length (default 8)")
    add.add_argument(
        "--kind", dest="shift_kind", choices=("at_post", "on_call"), default="at_post",
        help="at_post: offered while the console is open (default); on_call: offered while "
        "rostered, reached by SMS/WhatsApp/voice with a link",
    )
    add.set_defaults(func=cmd_shift_add)
    lst = shift.add_parser("list", help="a unit's shifts for the coming week")
    lst.add_argument("unit")
    lst.set_defaults(func=cmd_shift_list)
    end = shift.add_parser("end", help="remove a shift")
    end.add_argument("shift_id")
    end.set_defaults(func=cmd_shift_end)
    drill = sub.add_parser("drill", help="start a drill at a unit (routed to drill units only)")
    drill.add_argument("unit")
    drill.set_defaults(func=cmd_drill)

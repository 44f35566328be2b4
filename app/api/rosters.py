"""Rosters: shifts per unit, and who is on duty now."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime

from app.access import require_staff
from app.api.deps import Context, CurrentPrincipal, Session, error_responses
from app.audit import record
from app.dispatch.rosters import add_shift, delete_shift, list_shifts, unit_for, who_is_on_duty
from app.errors import Forbidden, NotFound, Unauthenticated, UnsupportedMediaType, ValidationFailed
from app.realtime.presence import DatabasePresence
from app.schemas.dispatch import OnDutyRead, ShiftCreate, ShiftRead

router = APIRouter(prefix="/v1", tags=["rosters"])
_ERRORS = error_responses(Unauthenticated, Forbidden, NotFound, ValidationFailed)
_STAFF = ("counselor", "paralegal", "transit_staff", "supervisor", "admin")


@router.post(
    "/units/{code}/shifts",
    status_code=201,
    summary="Put a staff member on a unit's roster (supervisor, admin)",
    description=(
        "Alerts are offered only to units with someone on duty: a shift covering the moment, "
        "for an enabled account that belongs to the unit."
    ),
    response_model=ShiftRead,
    responses={**_ERRORS, **error_responses(UnsupportedMediaType)},
)
async def post_shift(
    code: str, data: ShiftCreate, session: Session, context: Context, principal: CurrentPrincipal
) -> ShiftRead:
    staff = require_staff(principal, "supervisor", "admin")
    unit = await unit_for(session, code, staff)
    now = context.clock.now()
    shift = await add_shift(session, unit=unit, data=data, by=staff, now=now)
    record(
        session,
        principal=staff,
        action="shift.create",
        object_type="shift",
        object_id=shift.id,
        at=now,
        detail={"unit": code, "username": data.username},
    )
    await session.commit()
    return shift


@router.get(
    "/units/{code}/shifts",
    summary="A unit's roster in a time window (default: the next 7 days)",
    response_model=list[ShiftRead],
    responses=_ERRORS,
)
async def get_shifts(
    code: str,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
) -> list[ShiftRead]:
    staff = require_staff(principal, *_STAFF)
    unit = await unit_for(session, code, staff)
    start = start or context.clock.now()
    end = end or start + timedelta(days=7)
    if end <= start:
        raise ValidationFailed(
            "`to` must be after `from`.",
            extra={"errors": [{"loc": ["query", "to"], "msg": "before from"}]},
        )
    return await list_shifts(session, unit=unit, start=start, end=end)


@router.delete(
    "/shifts/{shift_id}",
    status_code=204,
    summary="Remove a shift (supervisor, admin)",
    responses=_ERRORS,
)
async def remove_shift(
    shift_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> Response:
    staff = require_staff(principal, "supervisor", "admin")
    shift = await delete_shift(session, shift_id=shift_id, by=staff)
    record(
        session,
        principal=staff,
        action="shift.delete",
        object_type="shift",
        object_id=shift.id,
        at=context.clock.now(),
    )
    await session.commit()
    return Response(status_code=204)


@router.get(
    "/units/{code}/on-duty",
    summary="Whether a unit is open and who is on duty now",
    response_model=OnDutyRead,
    responses=_ERRORS,
)
async def get_on_duty(
    code: str, session: Session, context: Context, principal: CurrentPrincipal
) -> OnDutyRead:
    staff = require_staff(principal, *_STAFF)
    unit = await unit_for(session, code, staff)
    return await who_is_on_duty(
        session,
        unit=unit,
        at=context.clock.now(),
        presence=context.presence,
        live=DatabasePresence(context.settings.realtime.presence_grace_s),
    )

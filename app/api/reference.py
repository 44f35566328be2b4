"""Reference routes: regions and units (read by staff and integrators, edited by supervisors and
admins)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from app.access import require_scope, require_staff
from app.api.deps import Context, CurrentPrincipal, Paging, Session, error_responses
from app.audit import record
from app.errors import Forbidden, NotFound, Unauthenticated, UnsupportedMediaType, ValidationFailed
from app.models import Region
from app.reference.units import get_unit, list_units, to_read, update_unit
from app.schemas.common import Page
from app.schemas.units import RegionRead, UnitRead, UnitUpdate

router = APIRouter(prefix="/v1", tags=["reference"])
_ERRORS = error_responses(Unauthenticated, Forbidden, ValidationFailed)


@router.get(
    "/regions",
    summary="Regions served by this deployment",
    response_model=list[RegionRead],
    responses=_ERRORS,
)
async def get_regions(session: Session, principal: CurrentPrincipal) -> list[RegionRead]:
    require_scope(principal, "reference:read")
    regions = (await session.scalars(select(Region).order_by(Region.code))).all()
    return [RegionRead.model_validate(r, from_attributes=True) for r in regions]


@router.get(
    "/units",
    summary="Responding units: posts, central desk, transit desks",
    response_model=Page[UnitRead],
    responses=_ERRORS,
)
async def get_units(
    session: Session,
    principal: CurrentPrincipal,
    paging: Paging,
    kind: Annotated[Literal["post", "central_desk", "transit_desk"] | None, Query()] = None,
) -> Page[UnitRead]:
    require_scope(principal, "reference:read")
    units, cursor = await list_units(session, kind=kind, limit=paging.limit, cursor=paging.cursor)
    return Page[UnitRead](items=units, next_cursor=cursor.encode() if cursor else None)


@router.get(
    "/units/{code}",
    summary="One unit",
    response_model=UnitRead,
    responses={**_ERRORS, **error_responses(NotFound)},
)
async def get_one_unit(code: str, session: Session, principal: CurrentPrincipal) -> UnitRead:
    require_scope(principal, "reference:read")
    return to_read(await get_unit(session, code))


ADMIN_ONLY_UNIT_FIELDS = frozenset({"name", "active"})
"""What changes a unit's identity or takes it out of routing altogether, rather than its details."""


@router.patch(
    "/units/{code}",
    summary="Edit a unit: address, coordinates, hours, phones, verified (supervisor or admin)",
    description=(
        "Supervisors and admins edit a unit's address, coordinates, hours, phones, `verified` and "
        "`takes_drills`; renaming a unit or changing `active` is for admins (403 otherwise)."
    ),
    response_model=UnitRead,
    responses={**_ERRORS, **error_responses(NotFound, UnsupportedMediaType)},
)
async def patch_unit(
    code: str, data: UnitUpdate, session: Session, context: Context, principal: CurrentPrincipal
) -> UnitRead:
    admin = require_staff(principal, "supervisor", "admin")
    if admin.role != "admin" and data.model_fields_set & ADMIN_ONLY_UNIT_FIELDS:
        raise Forbidden("Renaming a unit or changing whether it is active is for admins.")
    now = context.clock.now()
    unit = await update_unit(session, code=code, data=data, now=now)
    record(
        session,
        principal=admin,
        action="unit.update",
        object_type="unit",
        object_id=unit.id,
        at=now,
        detail={"fields": sorted(data.model_fields_set)},
    )
    read = to_read(unit)
    await session.commit()
    return read

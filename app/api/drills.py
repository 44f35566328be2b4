"""Drills started from the console: a training press at a unit's location (supervisors, admins)."""

from __future__ import annotations

import json
import uuid

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.access import require_staff
from app.api.deps import Context, CurrentPrincipal, Session, error_responses
from app.drills import start_drill
from app.errors import Forbidden, NotFound, Unauthenticated, UnsupportedMediaType, ValidationFailed
from app.reference.units import get_unit
from app.schemas.common import StrictInput

router = APIRouter(prefix="/v1", tags=["dispatch"])


class DrillCreate(StrictInput):
    unit_code: str = Field(..., min_length=1, max_length=40, examples=["3173020"])


class DrillRead(BaseModel):
    alert_id: uuid.UUID
    case_code: str
    unit_code: str = Field(description="Where the drill press was placed")


@router.post(
    "/drills",
    status_code=201,
    summary="Start a drill at a unit (supervisor, admin)",
    description=(
        "Records a drill press at the unit's coordinates through the normal intake. It is routed "
        "like a real alert but only to units that take part in drills, is marked `is_drill` "
        "everywhere, is never handed to 112 and never counts against an SLA."
    ),
    response_model=DrillRead,
    responses=error_responses(
        Unauthenticated, Forbidden, NotFound, UnsupportedMediaType, ValidationFailed
    ),
)
async def post_drill(
    data: DrillCreate, session: Session, context: Context, principal: CurrentPrincipal
) -> DrillRead:
    staff = require_staff(principal, "supervisor", "admin")
    unit = await get_unit(session, data.unit_code)
    result = await start_drill(
        session,
        unit=unit,
        by=staff,
        settings=context.settings,
        geo=context.geo,
        keyring=context.keyring,
        now=context.clock.now(),
    )
    body = json.loads(result.body)
    return DrillRead(alert_id=result.alert_id, case_code=body["case_code"], unit_code=unit.code)

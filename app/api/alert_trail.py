"""The trail of an alert's location fixes, for the console's map (staff who may see the alert)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlalchemy import select

from app.access import require_staff
from app.api.deps import Context, CurrentPrincipal, Session, error_responses
from app.audit import record
from app.errors import Forbidden, NotFound, PassedOn, Unauthenticated, ValidationFailed
from app.models import AlertLocation
from app.policy.alerts import open_alert
from app.schemas.alerts import LocationRead

router = APIRouter(prefix="/v1/alerts", tags=["dispatch"])
TRAIL_POINTS = 200


@router.get(
    "/{alert_id}/trail",
    summary="The alert's usable location fixes, oldest first (the latest 200); audited",
    response_model=list[LocationRead],
    responses=error_responses(Unauthenticated, Forbidden, NotFound, PassedOn, ValidationFailed),
)
async def get_trail(
    alert_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> list[LocationRead]:
    staff = require_staff(principal)
    _, access = await open_alert(session, staff, alert_id, now=context.clock.now())
    rows = (
        await session.scalars(
            select(AlertLocation)
            .where(AlertLocation.alert_id == alert_id, AlertLocation.usable.is_(True))
            .order_by(AlertLocation.fix_at.desc())
            .limit(TRAIL_POINTS)
        )
    ).all()
    rows = [r for r in rows if access.covers(r.received_at)]  # nothing after a unit's sight
    # A victim's movements are personal data: every read is audited, like the alert itself.
    record(
        session,
        principal=staff,
        action="alert.trail_read",
        object_type="alert",
        object_id=alert_id,
        at=context.clock.now(),
        detail={"points": len(rows)},
    )
    await session.commit()
    return [
        LocationRead(
            lat=r.lat, lon=r.lon, accuracy_m=r.accuracy_m, fix_at=r.fix_at, source=r.source
        )
        for r in reversed(rows)
    ]

"""Drills: a training press at a unit's own location, started by a supervisor.

In: a unit (its coordinates) and who started it. Out: a drill alert recorded through the very
same intake as a phone's press (a fresh device per drill, as each rehearsal is its own "phone"),
so it is routed, offered, escalated and shown exactly like a real one — but marked as a drill
everywhere, offered only to units that take part in drills, never handed to 112, and excluded
from SLAs (all of that is the intake's and the dispatcher's existing handling of ``is_drill``).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import StaffPrincipal
from app.audit import ShellOperator, record
from app.config import Settings
from app.errors import ValidationFailed
from app.geo.runtime import GeoService
from app.identity.devices import register_device
from app.ingestion.press import PressResult, ingest_alert
from app.models import Unit
from app.schemas.identity import DeviceCreate
from app.security.fields import KeyRing

DRILL_ACCURACY_M = 30.0


async def start_drill(
    session: AsyncSession,
    *,
    unit: Unit,
    by: StaffPrincipal | ShellOperator,
    settings: Settings,
    geo: GeoService,
    keyring: KeyRing,
    now: datetime,
) -> PressResult:
    """Commits twice: the drill's device, then (inside the intake) the alert itself."""
    if unit.lat is None or unit.lon is None:
        raise ValidationFailed(
            f"{unit.code} has no coordinates to rehearse at.",
            extra={"errors": [{"loc": ["body", "unit_code"], "msg": "no coordinates"}]},
        )
    if not unit.takes_drills:
        raise ValidationFailed(
            f"{unit.code} does not take part in drills.",
            extra={"errors": [{"loc": ["body", "unit_code"], "msg": "not in drills"}]},
        )
    device, _ = await register_device(
        session, data=DeviceCreate(platform="other", app_version="drill"), keyring=keyring, now=now
    )
    record(
        session,
        principal=by,
        action="drill.start",
        object_type="unit",
        object_id=unit.id,
        at=now,
        detail={"device_id": str(device.id)},
    )
    await session.commit()
    return await ingest_alert(
        session,
        device_id=device.id,
        body=json.dumps(
            {
                "pressed_at": now.isoformat(),
                "is_drill": True,
                "location": {
                    "lat": unit.lat,
                    "lon": unit.lon,
                    "accuracy_m": DRILL_ACCURACY_M,
                    "fix_at": now.isoformat(),
                    "source": "manual",
                },
            }
        ).encode(),
        idempotency_key=f"drill-{uuid.uuid4()}",
        received_at=now,
        settings=settings,
        geo=geo,
        keyring=keyring,
    )

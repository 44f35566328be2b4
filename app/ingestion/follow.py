"""After the press: the phone's location updates and its cancel (genuine or under duress)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import IntakeSettings
from app.errors import NotFound, PinIncorrect, ValidationFailed
from app.events import emit
from app.geo.runtime import GeoService
from app.identity.devices import check_not_locked, lock_device, record_pin_failure
from app.ingestion.payload import LocationFix
from app.ingestion.trail import append_fixes, emit_location_updated
from app.ingestion.views import device_view
from app.models import Alert, Device
from app.schemas.alerts import AlertDeviceView, LocationBatch, LocationBatchResult
from app.security.hashing import SecretHasher
from app.states import AlertState, transition
from app.tasks import schedule


async def own_alert(session: AsyncSession, *, device: Device, alert_id: uuid.UUID) -> Alert:
    """The device's own alert, or 404 (another device's alert does not exist for it)."""
    alert = await session.scalar(
        select(Alert)
        .where(Alert.id == alert_id, Alert.device_id == device.id)
        .with_for_update()
        .execution_options(populate_existing=True)  # locked again after a commit: read afresh
    )
    if alert is None:
        raise NotFound()
    return alert


async def add_locations(
    session: AsyncSession,
    *,
    device: Device,
    alert_id: uuid.UUID,
    batch: LocationBatch,
    geo: GeoService,
    settings: IntakeSettings,
    now: datetime,
) -> LocationBatchResult:
    """Store new points. Accepted on cancelled alerts too, alike for genuine and duress cancels."""
    alert = await own_alert(session, device=device, alert_id=alert_id)
    fixes = [
        LocationFix(
            lat=p.lat,
            lon=p.lon,
            accuracy_m=p.accuracy_m,
            fix_at=min(p.fix_at, now),
            source=p.source,
            usable=(now - p.fix_at).total_seconds() <= settings.max_fix_age_s,
            flags=[]
            if (now - p.fix_at).total_seconds() <= settings.max_fix_age_s
            else ["location_stale"],
        )
        for p in batch.points
    ]
    trail = await append_fixes(session, alert=alert, fixes=fixes, geo=geo, received_at=now)
    if trail.moved:
        emit_location_updated(session, alert, at=now)
        # The dispatcher decides whether the move changes who should get the offer.
        await schedule(session, alert_id=alert.id, kind="route", due_at=now, now=now)
    await session.flush()
    return LocationBatchResult(
        accepted=trail.accepted,
        duplicates=trail.duplicates,
        stale=trail.stale,
        latest_fix_at=alert.last_fix_at,
    )


async def cancel_alert(
    session: AsyncSession,
    *,
    device: Device,
    alert_id: uuid.UUID,
    pin: str | None,
    hasher: SecretHasher,
    settings: IntakeSettings,
    now: datetime,
) -> AlertDeviceView:
    """Cancel with the PIN. The duress PIN keeps the alert running, silently, and answers exactly
    as a genuine cancel would. A wrong PIN changes nothing but the failure count (the caller
    commits it before answering)."""
    alert = await own_alert(session, device=device, alert_id=alert_id)
    if alert.device_status != "active":
        return device_view(alert)  # cancelling twice is harmless, whichever PIN ended it
    check_not_locked(device, now=now)

    duress = False
    if device.cancel_pin_hash is not None:
        if pin is None:
            raise ValidationFailed(
                "This device has a cancel PIN: send it as `pin`.",
                extra={"errors": [{"loc": ["body", "pin"], "msg": "required"}]},
            )
        seen = (device.cancel_pin_hash, device.duress_pin_hash)
        # Argon2 runs with no transaction open (no row lock, no pooled connection, no SQLite
        # write lock waits on it); alert and device are locked and checked again after.
        await session.commit()
        # Both checks always run, in one job, so the time taken does not reveal which matched.
        cancel_ok, duress = await hasher.verify_pins(*seen, pin)
        alert = await own_alert(session, device=device, alert_id=alert_id)
        if alert.device_status != "active":
            return device_view(alert)  # a concurrent cancel ended it meanwhile
        device = await lock_device(session, device.id, seen=seen, now=now)
        if not (cancel_ok or duress):
            locked = record_pin_failure(
                device,
                now=now,
                max_failures=settings.pin_max_failures,
                lockout_s=settings.pin_lockout_s,
            )
            if locked:
                emit(
                    session,
                    "alert.cancel_paused",
                    at=now,
                    alert_id=alert.id,
                    data={
                        "until": device.pin_locked_until.isoformat()
                        if device.pin_locked_until
                        else None
                    },
                )
            await session.flush()
            raise PinIncorrect("The PIN is not correct; the alert is still active.")

    device.pin_failures = 0
    alert.device_status = "cancelled"
    alert.device_closed_at = now
    alert.joinable = False
    alert.updated_at = now
    if duress:
        alert.duress = True
        alert.do_not_call_back = True
        emit(session, "alert.duress_signalled", at=now, alert_id=alert.id, data={})
    elif alert.flood_suspected_at is not None:
        # A suspected flood stays open for staff as one attention item; the phone is shown
        # its cancel as usual (docs/intake.md).
        emit(
            session,
            "alert.cancelled",
            at=now,
            alert_id=alert.id,
            data={"by": "device", "kept_open": "flood_suspected"},
        )
    else:
        transition(alert, AlertState.CANCELLED, at=now)
        emit(session, "alert.cancelled", at=now, alert_id=alert.id, data={"by": "device"})
        await schedule(session, alert_id=alert.id, kind="route", due_at=now, now=now)
    await session.flush()
    return device_view(alert)

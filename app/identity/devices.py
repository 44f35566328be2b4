"""Device registration, credential lookup and rotation, and the cancel/duress PINs."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import notify
from app.config import Settings
from app.db import note_written
from app.errors import Conflict, PinIncorrect, PinLocked, PinRules, ValidationFailed
from app.events import announce_access_changed, emit
from app.models import Alert, Device
from app.ratelimit import count_hit, window_start
from app.schemas.identity import DeviceCreate, PinsUpdate
from app.security.credentials import DEVICE_PREFIX, digest, new_secret
from app.security.fields import KeyRing
from app.security.hashing import SecretHasher

# A rotated credential keeps working this long, so a rotation whose answer was lost on a flaky
# network does not lock the app out.
ROTATION_GRACE = timedelta(minutes=10)



def contact_aad(device_id: object) -> str:
    """Binds a device's contact ciphertext to its row."""
    return f"device.contact:{device_id}"

REGISTRATION_SURGE_EVENT = "device.registration_surge"


async def register_from_network(
    session: AsyncSession,
    *,
    data: DeviceCreate,
    network: str,
    settings: Settings,
    keyring: KeyRing,
    now: datetime,
) -> tuple[Device, str]:
    """Register an app install; never refused for volume. Past its network's hourly limit the
    device is registered ``unvetted`` (a victim behind a carrier NAT that someone else
    exhausted must still get a credential and press): its presses are recorded, routed and
    shown like any other, its on-call messages draw on a small lane of their own
    (``app.notify.budget``), and the supervisors on duty are told of the surge, once per
    ``registration_surge_window_s``. The answer is the same either way."""
    hits = await count_hit(session, key=f"register:{network}", window=timedelta(hours=1), now=now)
    unvetted = hits > settings.intake.registrations_per_network_per_hour
    device, credential = await register_device(
        session, data=data, keyring=keyring, now=now, unvetted=unvetted
    )
    if unvetted:
        await _tell_of_surge(session, settings=settings, now=now)
    return device, credential


async def _tell_of_surge(session: AsyncSession, *, settings: Settings, now: datetime) -> None:
    window = timedelta(seconds=settings.intake.registration_surge_window_s)
    if await count_hit(session, key="register-surge", window=window, now=now) > 1:
        return  # already told in this window
    since = window_start(now, window)
    emit(
        session,
        REGISTRATION_SURGE_EVENT,
        at=now,
        data={
            "since": since.isoformat(),
            "window_s": settings.intake.registration_surge_window_s,
            "limit_per_network": settings.intake.registrations_per_network_per_hour,
        },
    )
    note_written(session.sync_session, "notification")  # wakes the notifier at commit
    await notify.queue(
        session,
        recipients=await notify.supervisors_on_duty(
            session, region_code=settings.geo.default_region, at=now
        ),
        kind="registration_surge",
        text="Sigap: many app installs are registering from one network; new ones are marked "
        "unvetted (their alerts are still routed). Watch the console.",
        alert_id=None,
        ref=since.isoformat(),
        now=now,
        settings=settings.dispatch,
    )


async def register_device(
    session: AsyncSession,
    *,
    data: DeviceCreate,
    keyring: KeyRing,
    now: datetime,
    unvetted: bool = False,
) -> tuple[Device, str]:
    credential = new_secret(DEVICE_PREFIX)
    device = Device(
        id=uuid.uuid4(),
        credential_hash=digest(credential),
        platform=data.platform,
        app_version=data.app_version,
        created_at=now,
        pin_failures=0,
        unvetted=unvetted,
    )
    if data.contact and (data.contact.name or data.contact.phone):
        device.contact_enc = keyring.encrypt_json(
            data.contact.model_dump(exclude_none=True), aad=contact_aad(device.id)
        )
    session.add(device)
    await session.flush()
    return device, credential


async def find_device(session: AsyncSession, credential: str, *, now: datetime) -> Device | None:
    """The live device holding this credential (one indexed lookup; no slow hashing)."""
    hashed = digest(credential)
    device = await session.scalar(
        select(Device).where(
            or_(Device.credential_hash == hashed, Device.previous_credential_hash == hashed)
        )
    )
    if device is None or device.revoked_at is not None:
        return None
    if device.credential_hash != hashed and (
        device.previous_valid_until is None or device.previous_valid_until <= now
    ):
        return None
    return device


async def rotate_credential(session: AsyncSession, *, device: Device, now: datetime) -> str:
    credential = new_secret(DEVICE_PREFIX)
    if device.previous_valid_until is None or device.previous_valid_until <= now:
        device.previous_credential_hash = device.credential_hash
        device.previous_valid_until = now + ROTATION_GRACE
    device.credential_hash = digest(credential)
    device.credential_rotated_at = now
    await session.flush()
    return credential


async def revoke_device(session: AsyncSession, *, device: Device, now: datetime) -> None:
    """The credential stops working; the device's alerts carry on untouched."""
    device.revoked_at = now
    device.previous_valid_until = None
    announce_access_changed(session, subject=f"device:{device.id}", at=now)  # its open streams
    await session.flush()


def check_not_locked(device: Device, *, now: datetime) -> None:
    if device.pin_locked_until is not None and device.pin_locked_until > now:
        seconds = int((device.pin_locked_until - now).total_seconds()) + 1
        raise PinLocked(
            f"Too many wrong PINs. Try again in {seconds} seconds.",
            headers={"Retry-After": str(seconds)},
        )


def record_pin_failure(device: Device, *, now: datetime, max_failures: int, lockout_s: int) -> bool:
    """Count a wrong PIN; True when this failure starts a lockout."""
    device.pin_failures += 1
    if device.pin_failures >= max_failures:
        device.pin_failures = 0
        device.pin_locked_until = now + timedelta(seconds=lockout_s)
        return True
    return False


def stored_pins(device: Device) -> tuple[str | None, str | None, str | None]:
    """The device's PIN hashes: the cancel PIN, then the duress PINs."""
    return (device.cancel_pin_hash, device.duress_pin_hash, device.extra_duress_pin_hash)


def keep_pins(device: Device, hashes: tuple[str | None, ...]) -> None:
    device.cancel_pin_hash, device.duress_pin_hash, device.extra_duress_pin_hash = (
        hashes[0],
        hashes[1],
        hashes[2],
    )


PINS_CHANGED_EVENTS = {False: "device.pins_changed", True: "device.pins_changed_under_duress"}
"""Told on the device's latest alert, to UPTD PPA staff only (``app.policy.events``): the
second says the change was made with a duress PIN (whoever holds the phone set PINs). A later
press of a device whose alert was cancelled under duress is linked to it, so staff find it."""


async def set_pins(
    session: AsyncSession,
    *,
    device: Device,
    data: PinsUpdate,
    hasher: SecretHasher,
    now: datetime,
    max_failures: int,
    lockout_s: int,
) -> None:
    """Set the PINs; once a cancel PIN is set, changing them needs a PIN of the device.

    The duress PIN is accepted as ``current_pin`` too, at any time: whoever holds the phone
    may have watched the victim type it and believe it is *the* PIN. A change made with it
    makes every PIN it sets a duress PIN (the old duress PINs are replaced, so they answer as
    any replaced PIN does), and the real cancel PIN stays valid. Both paths answer alike and do
    the same work (one check of every stored PIN, one job hashing the new ones, the same
    statements: the device locked and updated, its latest alert told with an event that only
    UPTD PPA staff see), so nothing the phone can observe tells them apart.

    Argon2 runs with no transaction open: the request's transaction is committed first and the
    device locked again after, so neither a pooled connection nor SQLite's write lock waits on
    hashing."""
    check_not_locked(device, now=now)
    seen = stored_pins(device)
    if seen[0] is not None and data.current_pin is None:
        raise ValidationFailed(
            "current_pin is required to change PINs.",
            extra={"errors": [{"loc": ["body", "current_pin"], "msg": "required"}]},
        )
    await session.commit()
    if seen[0] is None:
        current_ok, under_duress = True, False
    else:
        check = await hasher.verify_pins(seen, data.current_pin or "")
        # A PIN that is both (the holder set the real one as a duress PIN) counts as duress.
        current_ok, under_duress = check.cancel or check.duress, check.duress
    new_pins = [data.cancel_pin] + ([data.duress_pin] if data.duress_pin else [])
    rules_ok = data.duress_pin is None or data.duress_pin != data.cancel_pin
    hashes = await hasher.hash_pins(*new_pins) if current_ok and rules_ok else []
    device = await lock_device(session, device.id, seen=seen, now=now)
    if not current_ok:
        record_pin_failure(device, now=now, max_failures=max_failures, lockout_s=lockout_s)
        raise PinIncorrect("current_pin is not correct; nothing changed.")
    if not rules_ok:
        raise PinRules("The duress PIN must differ from the cancel PIN.")
    second = hashes[1] if len(hashes) > 1 else None
    if under_duress:
        keep_pins(device, (seen[0], hashes[0], second))
    else:
        keep_pins(device, (hashes[0], second, None))
    device.pin_failures = 0
    # Told on the device's latest alert, open or not: which of its alerts are still open for
    # staff is the secret itself, so the work done must not depend on it (one row either way).
    latest = await session.scalar(
        select(Alert.id)
        .where(Alert.device_id == device.id)
        .order_by(Alert.received_at.desc(), Alert.id.desc())
        .limit(1)
    )
    if latest is not None:
        emit(session, PINS_CHANGED_EVENTS[under_duress], at=now, alert_id=latest, data={})
    await session.flush()


async def lock_device(
    session: AsyncSession,
    device_id: uuid.UUID,
    *,
    seen: tuple[str | None, ...],
    now: datetime,
) -> Device:
    """The device again, locked, after a PIN was checked with no transaction open: refused if
    it was locked meanwhile (concurrent wrong PINs do not buy extra tries) or its PINs changed
    (the check was against PINs that no longer exist)."""
    device = await session.scalar(
        select(Device)
        .where(Device.id == device_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if device is None:
        raise Conflict("The device changed meanwhile; retry.")
    check_not_locked(device, now=now)
    if stored_pins(device) != seen:
        raise Conflict("The PINs were changed meanwhile; nothing was done. Retry.")
    return device

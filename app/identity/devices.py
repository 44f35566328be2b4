"""Device registration, credential lookup and rotation, and the cancel/duress PINs."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, PinIncorrect, PinLocked, PinRules, ValidationFailed
from app.events import announce_access_changed
from app.models import Device
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

async def register_device(
    session: AsyncSession, *, data: DeviceCreate, keyring: KeyRing, now: datetime
) -> tuple[Device, str]:
    credential = new_secret(DEVICE_PREFIX)
    device = Device(
        id=uuid.uuid4(),
        credential_hash=digest(credential),
        platform=data.platform,
        app_version=data.app_version,
        created_at=now,
        pin_failures=0,
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
    """Set the PINs (the current cancel PIN is needed to change them). Argon2 runs with no
    transaction open: the request's transaction is committed first and the device locked again
    after, so neither a pooled connection nor SQLite's write lock waits on hashing."""
    check_not_locked(device, now=now)
    current_hash = device.cancel_pin_hash
    if current_hash is not None and data.current_pin is None:
        raise ValidationFailed(
            "current_pin is required to change PINs.",
            extra={"errors": [{"loc": ["body", "current_pin"], "msg": "required"}]},
        )
    seen = (device.cancel_pin_hash, device.duress_pin_hash)
    await session.commit()
    current_ok = current_hash is None or await hasher.verify(current_hash, data.current_pin or "")
    new_pins = [data.cancel_pin] + ([data.duress_pin] if data.duress_pin else [])
    rules_ok = data.duress_pin is None or data.duress_pin != data.cancel_pin
    hashes = await hasher.hash_many(*new_pins) if current_ok and rules_ok else []
    device = await lock_device(session, device.id, seen=seen, now=now)
    if not current_ok:
        record_pin_failure(device, now=now, max_failures=max_failures, lockout_s=lockout_s)
        raise PinIncorrect("current_pin is not correct; nothing changed.")
    if not rules_ok:
        raise PinRules("The duress PIN must differ from the cancel PIN.")
    device.cancel_pin_hash = hashes[0]
    device.duress_pin_hash = hashes[1] if len(hashes) > 1 else None
    device.pin_failures = 0
    await session.flush()


async def lock_device(
    session: AsyncSession,
    device_id: uuid.UUID,
    *,
    seen: tuple[str | None, str | None],
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
    if (device.cancel_pin_hash, device.duress_pin_hash) != seen:
        raise Conflict("The PINs were changed meanwhile; nothing was done. Retry.")
    return device

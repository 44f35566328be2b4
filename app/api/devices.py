"""Device routes: registration (open, rate-limited per network) and the device's own settings."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.access import require_device
from app.api.deps import Context, CurrentPrincipal, Session, error_responses
from app.errors import (
    BodyTooLarge,
    Conflict,
    Forbidden,
    PinIncorrect,
    PinLocked,
    PinRules,
    ServiceUnavailable,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from app.identity.devices import (
    register_from_network,
    revoke_device,
    rotate_credential,
    set_pins,
)
from app.ratelimit import network_key
from app.schemas.identity import DeviceCreate, DeviceCredential, DeviceRead, PinsUpdate

router = APIRouter(prefix="/v1/devices", tags=["devices"])


@router.post(
    "",
    status_code=201,
    summary="Register an app install",
    description=(
        "Open to anyone (a victim needs no account) and never refused for volume: past its "
        "network's limit a device is registered unvetted, alike in the answer. The credential "
        "is returned once; the server keeps only its SHA-256."
    ),
    response_model=DeviceCredential,
    responses=error_responses(
        BodyTooLarge, UnsupportedMediaType, ValidationFailed, ServiceUnavailable
    ),
)
async def register(
    data: DeviceCreate, request: Request, session: Session, context: Context
) -> DeviceCredential:
    now = context.clock.now()
    client = request.client.host if request.client else None
    device, credential = await register_from_network(
        session,
        data=data,
        network=network_key(client),
        settings=context.settings,
        keyring=context.keyring,
        now=now,
    )
    await session.commit()
    return DeviceCredential(
        device_id=device.id, credential=credential, created_at=device.created_at
    )


@router.get(
    "/me",
    summary="This device's settings",
    response_model=DeviceRead,
    responses=error_responses(Unauthenticated, Forbidden),
)
async def read_me(principal: CurrentPrincipal) -> DeviceRead:
    device = require_device(principal).device
    return DeviceRead(
        device_id=device.id,
        created_at=device.created_at,
        cancel_pin_set=device.cancel_pin_hash is not None,
        cancel_paused_until=device.pin_locked_until,
    )


@router.put(
    "/me/pins",
    status_code=204,
    summary="Set or change the cancel PIN and the duress PIN",
    description=(
        "The duress PIN cancels in appearance only: the alert carries on silently and is marked "
        '"do not call back". Changing PINs needs the current cancel PIN.'
    ),
    responses=error_responses(
        Unauthenticated,
        Forbidden,
        PinIncorrect,
        UnsupportedMediaType,
        ValidationFailed,
        PinRules,
        PinLocked,
        Conflict,
    ),
)
async def put_pins(
    data: PinsUpdate, session: Session, context: Context, principal: CurrentPrincipal
) -> Response:
    device = require_device(principal).device
    settings = context.settings.intake
    try:
        await set_pins(
            session,
            device=device,
            data=data,
            hasher=context.hasher,
            now=context.clock.now(),
            max_failures=settings.pin_max_failures,
            lockout_s=settings.pin_lockout_s,
        )
    except PinIncorrect:
        await session.commit()
        raise
    await session.commit()
    return Response(status_code=204)


@router.post(
    "/me/credential",
    summary="Rotate the device credential",
    description="Returns a new credential; the old one keeps working for 10 minutes.",
    response_model=DeviceCredential,
    responses=error_responses(Unauthenticated, Forbidden),
)
async def rotate(
    session: Session, context: Context, principal: CurrentPrincipal
) -> DeviceCredential:
    device = require_device(principal).device
    credential = await rotate_credential(session, device=device, now=context.clock.now())
    await session.commit()
    return DeviceCredential(
        device_id=device.id, credential=credential, created_at=device.created_at
    )


@router.delete(
    "/me",
    status_code=204,
    summary="Revoke this device's credential",
    description="The credential stops working at once. Alerts already sent carry on.",
    responses=error_responses(Unauthenticated, Forbidden),
)
async def revoke(session: Session, context: Context, principal: CurrentPrincipal) -> Response:
    device = require_device(principal).device
    await revoke_device(session, device=device, now=context.clock.now())
    await session.commit()
    return Response(status_code=204)

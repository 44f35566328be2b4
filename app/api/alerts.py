"""Alert routes: the press, location updates, cancel, and per-audience reads."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import select

from app.access import DevicePrincipal, StaffPrincipal, require_device, require_staff
from app.api.deps import Context, CurrentPrincipal, Paging, Session, error_responses
from app.dispatch.claims import renew
from app.dispatch.views import actions_of
from app.errors import (
    BodyTooLarge,
    Conflict,
    Forbidden,
    IdempotencyInFlight,
    IdempotencyKeyReused,
    InternalError,
    NotFound,
    PassedOn,
    PinIncorrect,
    PinLocked,
    ServiceUnavailable,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from app.ingestion.early_answer import ingest_answering_before_commit
from app.ingestion.follow import add_locations, cancel_alert
from app.ingestion.press import ingest_alert
from app.ingestion.views import access_view, device_view
from app.models import Alert
from app.pagination import Cursor
from app.policy.alerts import (
    audit_read,
    claims_held,
    glass_grants,
    open_alert,
    province_access,
)
from app.schemas.alerts import (
    DEVICE_VIEW_EXAMPLE,
    PRESS_EXAMPLE,
    AlertDeviceView,
    AlertStaffView,
    CancelRequest,
    LocationBatch,
    LocationBatchResult,
)
from app.schemas.common import Page
from app.states import TERMINAL

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

# No content error: a press takes any body (PRODUCT.md section 2, step 1).
_PRESS_ERRORS = error_responses(
    Unauthenticated,
    Forbidden,
    IdempotencyInFlight,
    BodyTooLarge,
    IdempotencyKeyReused,
    InternalError,
    ServiceUnavailable,
)


@router.post(
    "",
    status_code=201,
    summary="Press the panic button",
    description=(
        "Records an alert and commits it **before** answering. **Any body** of at most 64 KB "
        "from a device is a press and is recorded: `AlertCreate` documents what the app should "
        "send, but this route accepts more than that schema (a body that is empty, not JSON, not "
        "UTF-8, not an object, or has fields of any type), flagging in `flags` whatever it could "
        "not use (`body_unreadable` when nothing could be read): an accepted body that does not "
        "match the schema is this route's contract, not an error. "
        "A retry with the same `Idempotency-Key` returns the original status and body with "
        "`Idempotent-Replayed: true` (a readable body is compared as JSON, ignoring key order "
        "and white space; an unreadable one byte for byte). A press while the device's alert is "
        "active joins it (200). Content is never refused: the only other answers are 401 or 403 "
        "(not a device credential), 413, 409/422 (idempotency) and 503."
    ),
    openapi_extra={
        "requestBody": {
            "required": False,  # an empty body is a press too
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/AlertCreate"},
                    "examples": {"press": {"value": PRESS_EXAMPLE}},
                }
            },
        }
    },
    responses={
        201: {
            "description": "A new alert was recorded. `Location` points at it.",
            "model": AlertDeviceView,
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        200: {
            "description": "Joined the device's active alert, or a replay of a 200.",
            "model": AlertDeviceView,
            "content": {"application/json": {"example": DEVICE_VIEW_EXAMPLE}},
        },
        **_PRESS_ERRORS,
    },
    response_model=AlertDeviceView,
)
async def press(
    request: Request,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key", description="A new random key per press; reuse it on retry"
        ),
    ] = None,
) -> Response:
    device = require_device(principal).device
    device_id = device.id  # the ORM object expires if the service has to retry its transaction
    press_args: dict[str, Any] = {
        "device_id": device_id,
        "body": await request.body(),
        "idempotency_key": idempotency_key,
        "received_at": context.clock.now(),
        "settings": context.settings,
        "geo": context.geo,
        "keyring": context.keyring,
    }
    if context.settings.unsafe_answer_before_commit_s:  # test only: refused outside tests
        result = await ingest_answering_before_commit(
            context.sessions, hold_s=context.settings.unsafe_answer_before_commit_s, **press_args
        )
    else:
        result = await ingest_alert(session, **press_args)
    context.metrics.alerts_received.labels(
        result.outcome, "drill" if result.is_drill else "real"
    ).inc()
    headers = {"Location": f"/v1/alerts/{result.alert_id}"}
    if result.outcome == "replayed":
        headers["Idempotent-Replayed"] = "true"
    return Response(
        result.body, status_code=result.status, headers=headers, media_type="application/json"
    )


@router.get(
    "",
    summary="List alerts (supervisors and admins)",
    description=(
        "Newest first, paged by cursor. `active=true`: only alerts not yet resolved or "
        "cancelled (the supervisor board pages through them all); `active=false`: only closed "
        "ones."
    ),
    response_model=Page[AlertStaffView],
    responses=error_responses(Unauthenticated, Forbidden, ValidationFailed),
)
async def list_alerts(
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
    paging: Paging,
    active: Annotated[bool | None, Query(description="Only open (true) or closed (false)")] = None,
) -> Page[AlertStaffView]:
    staff = require_staff(principal, "supervisor", "admin")
    query = select(Alert).order_by(Alert.received_at.desc(), Alert.id.desc())
    closed = [state.value for state in TERMINAL]
    if active is True:
        query = query.where(Alert.state.not_in(closed))
    elif active is False:
        query = query.where(Alert.state.in_(closed))
    if paging.cursor is not None:
        stamp, last_id = paging.cursor.time_and_id()
        query = query.where(
            (Alert.received_at < stamp) | ((Alert.received_at == stamp) & (Alert.id < last_id))
        )
    alerts = (await session.scalars(query.limit(paging.limit + 1))).all()
    page = alerts[: paging.limit]
    now = context.clock.now()
    restricted = tuple(a.id for a in page if a.restricted_at is not None)
    glass = await glass_grants(session, staff, restricted, now=now)
    held = await claims_held(session, staff, restricted)
    actions = await actions_of(
        session, page, staff, now=now, reopen_window_s=context.settings.dispatch.reopen_window_s
    )
    items = []
    for alert in page:  # province-wide: every alert, but a restricted one only when entitled
        access = province_access(
            staff,
            alert,
            glass_until=glass.get(alert.id),
            now=now,
            holder=alert.id in held,
            claimed_at=held.get(alert.id),
        )
        item = access_view(alert, access, geo=context.geo, keyring=context.keyring)
        item.actions = actions[alert.id]
        items.append(item)
        audit_read(session, staff, alert.id, access, at=now, via="list")
    await session.commit()
    next_cursor = None
    if len(alerts) > paging.limit:
        last = page[-1]
        next_cursor = Cursor.of(last.received_at, last.id).encode()
    return Page[AlertStaffView](items=items, next_cursor=next_cursor)


@router.get(
    "/{alert_id}",
    summary="Read an alert",
    description=(
        "A device gets the reassurance view of its own alert (`AlertDeviceView`); staff get what "
        "their role allows (`AlertStaffView`). Reads of personal data are audited."
    ),
    responses={
        200: {
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/AlertDeviceView"},
                            {"$ref": "#/components/schemas/AlertStaffView"},
                        ]
                    },
                    "example": DEVICE_VIEW_EXAMPLE,
                }
            }
        },
        **error_responses(Unauthenticated, NotFound, PassedOn, ValidationFailed),
    },
)
async def read_alert(
    alert_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> dict[str, Any]:
    alert, access = await open_alert(session, principal, alert_id, now=context.clock.now())
    if isinstance(principal, DevicePrincipal):
        return device_view(alert).model_dump(mode="json")
    view = access_view(alert, access, geo=context.geo, keyring=context.keyring)
    if isinstance(principal, StaffPrincipal):
        actions = await actions_of(
            session,
            [alert],
            principal,
            now=context.clock.now(),
            reopen_window_s=context.settings.dispatch.reopen_window_s,
        )
        view.actions = actions[alert.id]
        # Looking at the alert is working on it: it keeps the holder's claim alive.
        await renew(
            session,
            alert_id=alert.id,
            staff_id=principal.user_id,
            lease_s=context.settings.dispatch.lease_s,
            now=context.clock.now(),
        )
    audit_read(session, principal, alert.id, access, at=context.clock.now())
    await session.commit()
    return view.model_dump(mode="json")


@router.post(
    "/{alert_id}/locations",
    summary="Send location updates",
    description=(
        "Points are stored in device fix-time order; a point whose fix time is already stored is "
        "ignored, and the alert's latest position never goes back in time."
    ),
    response_model=LocationBatchResult,
    responses=error_responses(
        Unauthenticated,
        Forbidden,
        NotFound,
        BodyTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        ServiceUnavailable,
    ),
)
async def post_locations(
    alert_id: uuid.UUID,
    batch: LocationBatch,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> LocationBatchResult:
    device = require_device(principal).device
    result = await add_locations(
        session,
        device=device,
        alert_id=alert_id,
        batch=batch,
        geo=context.geo,
        settings=context.settings.intake,
        now=context.clock.now(),
    )
    await session.commit()
    return result


@router.post(
    "/{alert_id}/cancel",
    summary="Cancel an alert with the PIN",
    description=(
        "Naturally idempotent: cancelling a cancelled alert returns it unchanged. A wrong PIN "
        "changes nothing (`pin-incorrect`); too many pause cancelling (`pin-locked`) while the "
        "alert stays active."
    ),
    response_model=AlertDeviceView,
    responses=error_responses(
        Unauthenticated,
        Forbidden,
        PinIncorrect,
        NotFound,
        Conflict,
        UnsupportedMediaType,
        ValidationFailed,
        PinLocked,
        ServiceUnavailable,
    ),
)
async def cancel(
    alert_id: uuid.UUID,
    body: CancelRequest,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
    response: Response,
) -> AlertDeviceView:
    device = require_device(principal).device
    try:
        view = await cancel_alert(
            session,
            device=device,
            alert_id=alert_id,
            pin=body.pin,
            hasher=context.hasher,
            settings=context.settings.intake,
            now=context.clock.now(),
        )
    except PinIncorrect:
        await session.commit()  # keep the failure count: it is what limits guessing
        raise
    await session.commit()
    return view

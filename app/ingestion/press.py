"""The press: one transaction writes the alert, its first location, the idempotency record and
the ``alert.received`` outbox event, and commits before anything is answered.

Idempotency (IETF draft, scoped per device): a retry with the same key gets the stored response;
the same key with another body gets 422; a retry that finds its twin still in flight waits for it
(PostgreSQL row locks) and then replays it, or gets 409 after ``lock_timeout``. Without a key, the
join rule still prevents a duplicate: a device has at most one joinable alert per kind, enforced by
a unique index, so concurrent presses collapse into one alert.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.dispatch.repeat_press import tell_of_repeat_press
from app.errors import IdempotencyInFlight, IdempotencyKeyReused
from app.events import emit
from app.geo.runtime import GeoService
from app.ingestion.payload import PressPayload, parse_press
from app.ingestion.trail import append_fixes, apply_placement
from app.ingestion.views import device_view, private_aad
from app.models import Alert, IdempotencyRecord
from app.security.fields import KeyRing
from app.states import AlertState
from app.tasks import schedule, schedule_new

_CASE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_MAX_ATTEMPTS = 4
LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class PressResult:
    status: int
    body: str
    """The exact JSON text answered, stored and replayed byte for byte."""
    alert_id: uuid.UUID
    outcome: Literal["created", "joined", "replayed"]
    is_drill: bool


def new_case_code() -> str:
    return "SGP-" + "".join(secrets.choice(_CASE_ALPHABET) for _ in range(8))


def key_digest(idempotency_key: str) -> str:
    # Keys are hashed so any length or character set from any app version is accepted.
    return hashlib.sha256(idempotency_key.encode("utf-8", "surrogatepass")).hexdigest()


async def ingest_alert(
    session: AsyncSession,
    *,
    device_id: uuid.UUID,
    body: bytes,
    idempotency_key: str | None,
    received_at: datetime,
    settings: Settings,
    geo: GeoService,
    keyring: KeyRing,
) -> PressResult:
    """Record a press and commit. Raises IdempotencyKeyReused or IdempotencyInFlight."""
    payload = parse_press(body, received_at=received_at, settings=settings.intake)
    key_hash = key_digest(idempotency_key) if idempotency_key is not None else None
    for attempt in range(_MAX_ATTEMPTS):
        try:
            result = await _ingest_once(
                session,
                device_id=device_id,
                payload=payload,
                key_hash=key_hash,
                received_at=received_at,
                settings=settings,
                geo=geo,
                keyring=keyring,
            )
            await session.commit()
            return result
        except IntegrityError:
            # A concurrent twin (same key, or same device's joinable alert) committed first:
            # start again and find its result.
            await session.rollback()
            if attempt == _MAX_ATTEMPTS - 1:
                raise
        except DBAPIError as exc:
            await session.rollback()
            if sqlstate(exc) == LOCK_NOT_AVAILABLE:
                raise IdempotencyInFlight(
                    "An identical press is still being recorded; retry shortly.",
                    headers={"Retry-After": "1"},
                ) from exc
            raise
    raise AssertionError("unreachable")


def sqlstate(exc: DBAPIError) -> str | None:
    for candidate in (exc.orig, getattr(exc.orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if code:
            return str(code)
    return None


async def _ingest_once(
    session: AsyncSession,
    *,
    device_id: uuid.UUID,
    payload: PressPayload,
    key_hash: str | None,
    received_at: datetime,
    settings: Settings,
    geo: GeoService,
    keyring: KeyRing,
) -> PressResult:
    if key_hash is not None:
        record = await session.get(IdempotencyRecord, (device_id, key_hash))
        if record is not None and record.expires_at <= received_at:
            await session.delete(record)
            await session.flush()
            record = None
        if record is not None:
            if record.request_hash != payload.request_hash:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was used for a different press. Use a new key."
                )
            return PressResult(
                status=record.response_status,
                body=record.response_body,
                alert_id=record.alert_id,
                outcome="replayed",
                is_drill=bool(json.loads(record.response_body).get("is_drill")),
            )

    joinable = await session.scalar(
        select(Alert)
        .where(
            Alert.device_id == device_id,
            Alert.is_drill.is_(payload.is_drill),
            Alert.joinable.is_(True),
        )
        .with_for_update()
    )
    outcome: Literal["created", "joined"]
    if joinable is not None:
        alert, status, outcome = joinable, 200, "joined"
        await _join(session, alert=alert, payload=payload, received_at=received_at, geo=geo)
        await tell_of_repeat_press(session, alert=alert, at=received_at, settings=settings)
    else:
        alert, status, outcome = (
            await _create(
                session,
                device_id=device_id,
                payload=payload,
                received_at=received_at,
                geo=geo,
                settings=settings,
                keyring=keyring,
            ),
            201,
            "created",
        )

    body = device_view(alert).model_dump_json()
    if key_hash is not None:
        session.add(
            IdempotencyRecord(
                device_id=device_id,
                key_hash=key_hash,
                request_hash=payload.request_hash,
                response_status=status,
                response_body=body,
                alert_id=alert.id,
                created_at=received_at,
                expires_at=received_at + timedelta(hours=settings.intake.idempotency_ttl_h),
            )
        )
    await session.flush()
    return PressResult(
        status=status, body=body, alert_id=alert.id, outcome=outcome, is_drill=alert.is_drill
    )


async def _create(
    session: AsyncSession,
    *,
    device_id: uuid.UUID,
    payload: PressPayload,
    received_at: datetime,
    settings: Settings,
    geo: GeoService,
    keyring: KeyRing,
) -> Alert:
    # A press after a duress cancel: the phone sees a fresh alert, staff see it linked to the
    # duress alert that is still running.
    linked = await session.scalar(
        select(Alert.id)
        .where(
            Alert.device_id == device_id,
            Alert.duress.is_(True),
            Alert.state.not_in([AlertState.RESOLVED.value, AlertState.CANCELLED.value]),
        )
        .order_by(Alert.received_at.desc())
        .limit(1)
    )
    alert = Alert(
        id=uuid.uuid4(),
        case_code=new_case_code(),
        device_id=device_id,
        region_code=settings.geo.default_region,
        state=AlertState.RECEIVED.value,
        is_drill=payload.is_drill,
        silent=payload.silent,
        reporter=payload.reporter,
        victim_is_child=payload.victim_is_child,
        companion_preference=payload.companion_preference,
        pressed_at=payload.pressed_at,
        received_at=received_at,
        flags=sorted(set(payload.flags)),
        station_candidates=[],
        area_method="none",
        transit_context=payload.transit,
        press_count=1,
        last_pressed_at=received_at,
        joinable=True,
        device_status="active",
        dispatch_step=0,
        escalations=0,
        sla_dirty=True,
        duress=False,
        do_not_call_back=False,
        linked_alert_id=linked,
        updated_at=received_at,
    )
    if payload.private:
        alert.private_enc = keyring.encrypt_json(payload.private, aad=private_aad(alert.id))
    session.add(alert)
    await session.flush()
    if payload.location is not None:
        await append_fixes(
            session, alert=alert, fixes=[payload.location], geo=geo, received_at=received_at
        )
    if alert.last_fix_at is None:
        apply_placement(alert, None)
    schedule_new(session, alert_id=alert.id, due_at=received_at)
    emit(
        session,
        "alert.received",
        at=received_at,
        alert_id=alert.id,
        data={
            "case_code": alert.case_code,
            "region_code": alert.region_code,
            "area_code": alert.area_code,
            "area_method": alert.area_method,
            "is_drill": alert.is_drill,
            "silent": alert.silent,
            "reporter": alert.reporter,
            "has_location": alert.last_fix_at is not None,
            "transit": alert.transit_context is not None,
            "at_station": [c["uid"] for c in alert.station_candidates if c["at_station"]],
            "linked_alert_id": str(linked) if linked else None,
        },
    )
    return alert


async def _join(
    session: AsyncSession,
    *,
    alert: Alert,
    payload: PressPayload,
    received_at: datetime,
    geo: GeoService,
) -> None:
    alert.press_count += 1
    alert.last_pressed_at = received_at
    alert.updated_at = received_at
    if payload.flags:
        alert.flags = sorted(set(alert.flags) | set(payload.flags))
    moved = False
    if payload.location is not None:
        trail = await append_fixes(
            session, alert=alert, fixes=[payload.location], geo=geo, received_at=received_at
        )
        moved = trail.moved
    if moved:
        await schedule(
            session, alert_id=alert.id, kind="route", due_at=received_at, now=received_at
        )
    emit(
        session,
        "alert.pressed_again",
        at=received_at,
        alert_id=alert.id,
        data={"press_count": alert.press_count, "location_moved": moved},
    )

"""The press: one transaction writes the alert, its first location, its routing clock, its
routing task, the idempotency record and the ``alert.received`` outbox event, and commits before
anything is answered. On PostgreSQL a first press (the usual case) is a single statement
(``app.ingestion.one_statement``); joins, replays and twins take the general path here, which
SQLite always takes. The rows of a new alert are built once for both (``app.ingestion.new_alert``).

Idempotency (IETF draft, scoped per device): a retry with the same key gets the stored response;
the same key with another body gets 422; a retry that finds its twin still in flight waits for it
(PostgreSQL row locks) and then replays it, or gets 409 after ``lock_timeout``. Without a key, the
join rule still prevents a duplicate: a device has at most one joinable alert per kind, enforced by
a unique index, so concurrent presses collapse into one alert.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import IdempotencyInFlight, IdempotencyKeyReused
from app.events import emit
from app.geo.runtime import GeoService
from app.ingestion.new_alert import build_new_alert
from app.ingestion.one_statement import insert_first_press
from app.ingestion.payload import PressPayload, parse_press
from app.ingestion.trail import append_fixes
from app.ingestion.views import device_view
from app.models import Alert, Device, IdempotencyRecord, SlaClock
from app.security.fields import KeyRing
from app.states import TERMINAL, AlertState, reopen
from app.tasks import schedule

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
    if session.get_bind().dialect.name == "postgresql":
        created = await _create_in_one_statement(
            session,
            device_id=device_id,
            payload=payload,
            key_hash=key_hash,
            received_at=received_at,
            settings=settings,
            geo=geo,
            keyring=keyring,
        )
        if created is not None:
            return created
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

    reopenable = None
    if payload.is_drill:
        joinable = await session.scalar(
            select(Alert)
            .where(
                Alert.device_id == device_id,
                Alert.is_drill.is_(True),
                Alert.joinable.is_(True),
            )
            .with_for_update()
        )
    else:  # a real press never joins a drill
        # One query for both: the joinable real alert if there is one, else the latest.
        latest = await session.scalar(
            select(Alert)
            .where(Alert.device_id == device_id, Alert.is_drill.is_(False))
            .order_by(Alert.joinable.desc(), Alert.received_at.desc())
            .limit(1)
            .with_for_update()
            .execution_options(populate_existing=True)  # a concurrent reopen, after the lock
        )
        joinable = latest if latest is not None and latest.joinable else None
        if latest is not None and joinable is None:
            reopenable = await _reopenable(
                session, latest=latest, received_at=received_at, settings=settings
            )
    outcome: Literal["created", "joined"]
    if joinable is not None:
        alert, status, outcome = joinable, 200, "joined"
        await _join(session, alert=alert, payload=payload, received_at=received_at, geo=geo)
    elif reopenable is not None:
        alert, status, outcome = reopenable, 200, "joined"
        await _reopen(
            session,
            alert=alert,
            payload=payload,
            received_at=received_at,
            geo=geo,
            settings=settings,
        )
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
            _idempotency_record(
                device_id=device_id,
                key_hash=key_hash,
                payload=payload,
                status=status,
                body=body,
                alert_id=alert.id,
                received_at=received_at,
                settings=settings,
            )
        )
    await session.flush()
    return PressResult(
        status=status, body=body, alert_id=alert.id, outcome=outcome, is_drill=alert.is_drill
    )


def _idempotency_record(
    *,
    device_id: uuid.UUID,
    key_hash: str,
    payload: PressPayload,
    status: int,
    body: str,
    alert_id: uuid.UUID,
    received_at: datetime,
    settings: Settings,
) -> IdempotencyRecord:
    return IdempotencyRecord(
        device_id=device_id,
        key_hash=key_hash,
        request_hash=payload.request_hash,
        response_status=status,
        response_body=body,
        alert_id=alert_id,
        created_at=received_at,
        expires_at=received_at + timedelta(hours=settings.intake.idempotency_ttl_h),
    )


async def _create_in_one_statement(
    session: AsyncSession,
    *,
    device_id: uuid.UUID,
    payload: PressPayload,
    key_hash: str | None,
    received_at: datetime,
    settings: Settings,
    geo: GeoService,
    keyring: KeyRing,
) -> PressResult | None:
    """PostgreSQL, a first press (the usual case): everything in one statement
    (``app.ingestion.one_statement``). None when the device has a joinable alert (or one to
    reopen) or the key a record: nothing was written, and the press takes the general path."""
    new = build_new_alert(
        device_id=device_id,
        payload=payload,
        received_at=received_at,
        settings=settings,
        geo=geo,
        keyring=keyring,
        linked=None,  # found by the statement itself
    )
    alert = new.alert
    body = device_view(alert).model_dump_json()
    record = None
    if key_hash is not None:
        record = _idempotency_record(
            device_id=device_id,
            key_hash=key_hash,
            payload=payload,
            status=201,
            body=body,
            alert_id=alert.id,
            received_at=received_at,
            settings=settings,
        )
    if not await insert_first_press(
        session,
        new=new,
        record=record,
        rejoin_window_s=settings.intake.rejoin_window_s,
        rejoin_alerts_per_hour=settings.intake.rejoin_alerts_per_hour,
    ):
        return None
    return PressResult(
        status=201, body=body, alert_id=alert.id, outcome="created", is_drill=alert.is_drill
    )


def _linked_duress(device_id: uuid.UUID) -> Select[tuple[uuid.UUID]]:
    """A press after a duress cancel: the phone sees a fresh alert, staff see it linked to the
    duress alert that is still running."""
    return (
        select(Alert.id)
        .where(
            Alert.device_id == device_id,
            Alert.duress.is_(True),
            Alert.state.not_in([AlertState.RESOLVED.value, AlertState.CANCELLED.value]),
        )
        .order_by(Alert.received_at.desc())
        .limit(1)
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
    linked = await session.scalar(_linked_duress(device_id))
    new = build_new_alert(
        device_id=device_id,
        payload=payload,
        received_at=received_at,
        settings=settings,
        geo=geo,
        keyring=keyring,
        linked=linked,
    )
    # One flush writes them all (the unit of work orders the alert before its rows).
    session.add(new.alert)
    await session.flush()
    session.add_all([*([new.location] if new.location else []), *new.clocks, new.task, new.event])
    return new.alert


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
    # Whom to tell (the claim holder, a silent holder's supervisor) is the dispatcher's to
    # decide, in its own transaction: one task per press.
    await schedule(
        session,
        alert_id=alert.id,
        kind="repeat_press",
        ref=str(alert.press_count),
        due_at=received_at,
        now=received_at,
    )
    emit(
        session,
        "alert.pressed_again",
        at=received_at,
        alert_id=alert.id,
        data={"press_count": alert.press_count, "location_moved": moved},
    )


ALERT_CLOCKS = ("routing", "acknowledgement", "first_contact", "on_scene")
"""The alert's own clocks (``app.sla.policy.ALERT_CLOCKS``): a reopen starts them afresh."""


async def _reopenable(
    session: AsyncSession, *, latest: Alert, received_at: datetime, settings: Settings
) -> Alert | None:
    """The device's ``latest`` real alert (not joinable) when this press must reopen it rather
    than open a new one: the phone saw it cancelled within ``rejoin_window_s``, or the device
    already opened ``rejoin_alerts_per_hour`` alerts in the last hour. Decided from what the
    phone itself saw (its alert's ``device_status`` and when it ended, its own presses), never
    from what staff did, so a press after a duress cancel is answered exactly as after a
    genuine one."""
    intake = settings.intake
    closed = latest.device_closed_at
    if (
        latest.device_status == "cancelled"
        and closed is not None
        and closed >= received_at - timedelta(seconds=intake.rejoin_window_s)
    ):
        return latest
    opened = await session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(
            Alert.device_id == latest.device_id,
            Alert.is_drill.is_(False),
            Alert.received_at >= received_at - timedelta(hours=1),
        )
    )
    return latest if (opened or 0) >= intake.rejoin_alerts_per_hour else None


async def _reopen(
    session: AsyncSession,
    *,
    alert: Alert,
    payload: PressPayload,
    received_at: datetime,
    geo: GeoService,
    settings: Settings,
) -> None:
    """The device's latest alert, which its phone saw end, is received again: the phone is
    shown an active alert from this press on, and staff get it routed afresh at once (new legs
    from the press's location, a new ladder and acknowledgement clock, first-offer messages),
    with the whole history kept in its events. Past ``dispatch.flood_cycles`` reopens it is a
    suspected flood: open for staff as one attention item, not offered again."""
    alert.press_count += 1
    alert.reopen_count += 1
    alert.last_pressed_at = received_at
    alert.reopened_at = received_at
    # What the phone sees starts here, alike after a genuine and a duress cancel.
    alert.device_status, alert.device_closed_at, alert.joinable = "active", None, True
    if payload.flags:
        alert.flags = sorted(set(alert.flags) | set(payload.flags))
    suspected = alert.flood_suspected_at is not None
    newly_suspected = not suspected and alert.reopen_count > settings.dispatch.flood_cycles
    if newly_suspected:
        alert.flood_suspected_at = received_at
        # The device's flood history: its alerts no longer spend the established devices'
        # reserved share of messages (``app.notify.budget``).
        await session.execute(
            update(Device)
            .where(Device.id == alert.device_id, Device.flooded_at.is_(None))
            .values(flooded_at=received_at)
        )
        emit(
            session,
            "alert.flood_suspected",
            at=received_at,
            alert_id=alert.id,
            data={
                "reopen_count": alert.reopen_count,
                "flood_cycles": settings.dispatch.flood_cycles,
            },
        )
    route = not suspected or AlertState(alert.state) in TERMINAL
    if route:
        # Routed afresh: the progress of the earlier cycle stays in the events, and the
        # alert's own clocks start again from this press.
        reopen(alert, at=received_at, by="device")
        await session.execute(
            delete(SlaClock).where(SlaClock.alert_id == alert.id, SlaClock.clock.in_(ALERT_CLOCKS))
        )
    alert.updated_at = received_at
    moved = False
    if payload.location is not None:
        trail = await append_fixes(
            session, alert=alert, fixes=[payload.location], geo=geo, received_at=received_at
        )
        moved = trail.moved
    emit(
        session,
        "alert.reopened",
        at=received_at,
        alert_id=alert.id,
        data={
            "reopen_count": alert.reopen_count,
            "press_count": alert.press_count,
            "location_moved": moved,
            "flood_suspected": alert.flood_suspected_at is not None,
        },
    )
    if route:
        await schedule(
            session, alert_id=alert.id, kind="route", due_at=received_at, now=received_at
        )

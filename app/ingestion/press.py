"""The press: one transaction writes the alert, its first location, its routing clock, its
routing task, the idempotency record and the ``alert.received`` outbox event, and commits before
anything is answered. On PostgreSQL a first press (the usual case) is a single statement; joins,
replays and twins take the general path, which SQLite always takes.

Idempotency (IETF draft, scoped per device): a retry with the same key gets the stored response;
the same key with another body gets 422; a retry that finds its twin still in flight waits for it
(PostgreSQL row locks) and then replays it, or gets 409 after ``lock_timeout``. Without a key, the
join rule still prevents a duplicate: a device has at most one joinable alert per kind, enforced by
a unique index, so concurrent presses collapse into one alert.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    bindparam,
    cast,
    exists,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import note_written
from app.dispatch.repeat_press import tell_of_repeat_press
from app.errors import IdempotencyInFlight, IdempotencyKeyReused
from app.events import emit
from app.geo.runtime import GeoService
from app.ingestion.payload import PressPayload, parse_press
from app.ingestion.trail import append_fixes, apply_placement
from app.ingestion.views import device_view, private_aad
from app.models import Alert, AlertLocation, DispatchTask, IdempotencyRecord, OutboxEvent, SlaClock
from app.models.base import Base
from app.security.fields import KeyRing
from app.sla.clocks import clocks_at_receipt
from app.states import AlertState
from app.tasks import schedule

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


@dataclass
class _NewAlert:
    """Every row a first press writes, built in memory before any of it is sent."""

    alert: Alert
    location: AlertLocation | None
    clocks: list[SlaClock]
    task: DispatchTask
    event: OutboxEvent


def _new_alert(
    *,
    device_id: uuid.UUID,
    payload: PressPayload,
    received_at: datetime,
    settings: Settings,
    geo: GeoService,
    keyring: KeyRing,
    linked: uuid.UUID | None,
) -> _NewAlert:
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
        legal_hold=False,  # every column is bound in the one-statement press
        linked_alert_id=linked,
        updated_at=received_at,
    )
    if payload.private:
        alert.private_enc = keyring.encrypt_json(payload.private, aad=private_aad(alert.id))
    location = None
    fix = payload.location
    placement = None
    if fix is not None:
        if fix.usable and fix.lat is not None and fix.lon is not None:
            placement = geo.place(fix.lat, fix.lon, fix.accuracy_m)
        location = AlertLocation(
            alert_id=alert.id,
            fix_at=fix.fix_at,
            received_at=received_at,
            lat=fix.lat,
            lon=fix.lon,
            accuracy_m=fix.accuracy_m,
            source=fix.source,
            usable=fix.usable,
            flags=fix.flags,
            area_code=placement.area.area_code if placement else None,
        )
    if fix is not None and placement is not None:
        alert.last_lat, alert.last_lon = fix.lat, fix.lon
        alert.last_accuracy_m, alert.last_fix_at = fix.accuracy_m, fix.fix_at
        alert.last_location_source = fix.source
    apply_placement(alert, placement)
    event = OutboxEvent(
        event_type="alert.received",
        alert_id=alert.id,
        payload={
            "alert_id": str(alert.id),
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
        created_at=received_at,
    )
    task = DispatchTask(
        alert_id=alert.id,
        kind="route",
        ref="",
        due_at=received_at,
        attempts=0,
        created_at=received_at,
    )
    clocks = clocks_at_receipt(alert, sla=settings.sla)
    return _NewAlert(alert=alert, location=location, clocks=clocks, task=task, event=event)


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
    new = _new_alert(
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


_Shape = tuple[tuple[type[Base], ...], bool]
"""The rows a first press writes besides the alert (in order), and whether a key is checked."""
_TEMPLATES: dict[_Shape, Select[tuple[uuid.UUID]]] = {}


@functools.cache
def _columns(model: type[Base]) -> tuple[tuple[str, str], ...]:
    """(attribute, column) of every column a press writes: all but generated ids."""
    table = model.__table__
    generated = table.autoincrement_column if isinstance(table, Table) else None
    return tuple(
        (attribute.key, attribute.columns[0].name)
        for attribute in inspect(model).column_attrs
        if attribute.columns[0] is not generated
    )


def _values(model: type[Base], prefix: str, **computed: ColumnElement[Any]) -> list[Any]:
    table = model.__table__
    return [
        computed[name].label(name)
        if name in computed
        else bindparam(f"{prefix}_{name}", type_=table.c[name].type).label(name)
        for _, name in _columns(model)
    ]


def _template(shape: _Shape) -> Select[tuple[uuid.UUID]]:
    """One statement per shape, built once: a press only binds values to it, so SQLAlchemy's
    compiled cache and asyncpg's prepared statements are reused from the second press on."""
    dependents, keyed = shape
    linked = (
        select(Alert.id)
        .where(
            Alert.device_id == bindparam("dup_device_id", type_=Alert.device_id.type),
            Alert.duress.is_(True),
            Alert.state.not_in([AlertState.RESOLVED.value, AlertState.CANCELLED.value]),
        )
        .order_by(Alert.received_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    blockers = [
        ~exists().where(
            Alert.device_id == bindparam("join_device_id", type_=Alert.device_id.type),
            Alert.is_drill == bindparam("join_is_drill", type_=Alert.is_drill.type),
            Alert.joinable.is_(True),
        )
    ]
    if keyed:
        blockers.append(
            ~exists().where(
                IdempotencyRecord.device_id
                == bindparam("key_device_id", type_=IdempotencyRecord.device_id.type),
                IdempotencyRecord.key_hash
                == bindparam("key_key_hash", type_=IdempotencyRecord.key_hash.type),
            )
        )
    inserted = (
        insert(Alert)
        .from_select(
            [name for _, name in _columns(Alert)],
            select(*_values(Alert, "alert", linked_alert_id=linked)).where(*blockers),
        )
        .returning(Alert.id)
        .cte("new_alert")
    )
    # The event names the linked duress alert, found by the same statement.
    payload = cast(bindparam("event_payload", type_=JSONB), JSONB).op("||")(
        func.jsonb_build_object("linked_alert_id", cast(linked, String))
    )
    chained = [
        insert(model)
        .from_select(
            [name for _, name in _columns(model)],
            select(*_values(model, f"row{n}")).select_from(inserted),
        )
        .cte(f"row_{n}")
        for n, model in enumerate(dependents)
    ]
    chained.append(
        insert(OutboxEvent)
        .from_select(
            [name for _, name in _columns(OutboxEvent)],
            select(*_values(OutboxEvent, "event", payload=payload)).select_from(inserted),
        )
        .cte("event")
    )
    return select(inserted.c.id).add_cte(*chained)


def _bind(obj: Base, prefix: str, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        f"{prefix}_{name}": getattr(obj, key)
        for key, name in _columns(type(obj))
        if name not in skip
    }


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
    """PostgreSQL, a first press (the usual case): one statement, one round trip, writes the
    alert, its location, its clocks, its routing task, its ``alert.received`` event and the
    idempotency record, each insert chained on the alert's (CTEs).

    The alert is inserted only when the device has no joinable alert of this kind and no
    record for this key; otherwise nothing is written and None sends the press down the
    general path (join, replay, 422, expired record). A concurrent twin still trips the unique
    indexes, exactly as on the general path (the caller retries, or answers 409).
    """
    new = _new_alert(
        device_id=device_id,
        payload=payload,
        received_at=received_at,
        settings=settings,
        geo=geo,
        keyring=keyring,
        linked=None,
    )
    alert = new.alert
    body = device_view(alert).model_dump_json()
    dependents: list[Base] = [*new.clocks, new.task]
    if new.location is not None:
        dependents.append(new.location)
    if key_hash is not None:
        dependents.append(
            IdempotencyRecord(
                device_id=device_id,
                key_hash=key_hash,
                request_hash=payload.request_hash,
                response_status=201,
                response_body=body,
                alert_id=alert.id,
                created_at=received_at,
                expires_at=received_at + timedelta(hours=settings.intake.idempotency_ttl_h),
            )
        )
    shape: _Shape = (tuple(type(d) for d in dependents), key_hash is not None)
    statement = _TEMPLATES.get(shape)
    if statement is None:
        statement = _TEMPLATES.setdefault(shape, _template(shape))
    params: dict[str, Any] = {
        "dup_device_id": device_id,
        "join_device_id": device_id,
        "join_is_drill": payload.is_drill,
        "key_device_id": device_id,
        "key_key_hash": key_hash,
        "event_payload": new.event.payload,
        **_bind(alert, "alert", skip=("linked_alert_id",)),
        **_bind(new.event, "event", skip=("payload",)),
    }
    for n, row in enumerate(dependents):
        params.update(_bind(row, f"row{n}"))
    if key_hash is None:
        del params["key_device_id"], params["key_key_hash"]
    created = (await session.execute(statement, params)).scalar_one_or_none()
    if created is None:
        return None
    for table in ("alert", "outbox_event", "dispatch_task", "sla_clock"):
        note_written(session.sync_session, table)
    return PressResult(
        status=201, body=body, alert_id=alert.id, outcome="created", is_drill=alert.is_drill
    )


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

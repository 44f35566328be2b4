"""A first press on PostgreSQL in one statement, one round trip: the alert, its location, its
clocks, its routing task, its ``alert.received`` event and the idempotency record, each insert
chained on the alert's through CTEs (``INSERT … SELECT``).

The alert is inserted only when the device has no joinable alert of this kind, no real alert it
must reopen instead (cancelled a short while ago, or several opened in the last hour) and no record
for this key; otherwise nothing is written and the press takes the general path
(``app.ingestion.press``: join, replay, 422, expired record). A concurrent twin still trips the
unique indexes, exactly as on the general path. The statement is built once per shape of rows and
only bound per press, so SQLAlchemy's compiled cache and asyncpg's prepared statements are reused.
"""

from __future__ import annotations

import functools
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
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
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import note_written
from app.ingestion.new_alert import NewAlert
from app.models import Alert, IdempotencyRecord, OutboxEvent
from app.models.base import Base
from app.states import AlertState

_Shape = tuple[tuple[type[Base], ...], bool, bool]
"""The rows a first press writes besides the alert (in order), whether a key is checked, and
whether the press is a real one (which may have to reopen the device's latest alert)."""
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
    dependents, keyed, real = shape
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
    if real:
        # The join rule's reopen (``app.ingestion.press._reopenable``): a phone that saw its
        # alert cancelled a short while ago, or that opened several alerts in the last hour,
        # reopens its latest one; the general path decides which.
        blockers.append(
            ~exists().where(
                Alert.device_id == bindparam("reopen_device_id", type_=Alert.device_id.type),
                Alert.is_drill.is_(False),
                Alert.device_status == "cancelled",
                Alert.device_closed_at
                >= bindparam("reopen_closed_after", type_=Alert.device_closed_at.type),
            )
        )
        blockers.append(
            select(func.count())
            .select_from(Alert)
            .where(
                Alert.device_id == bindparam("recent_device_id", type_=Alert.device_id.type),
                Alert.is_drill.is_(False),
                Alert.received_at
                >= bindparam("recent_after", type_=Alert.received_at.type),
            )
            .scalar_subquery()
            < bindparam("recent_max", type_=Integer())
        )
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


async def insert_first_press(
    session: AsyncSession,
    *,
    new: NewAlert,
    record: IdempotencyRecord | None,
    rejoin_window_s: int,
    rejoin_alerts_per_hour: int,
) -> bool:
    """Write ``new`` (and the idempotency ``record``, when the press has a key) in one
    statement; False when nothing was written because the press is not a first one."""
    alert = new.alert
    dependents: list[Base] = [*new.clocks, new.task]
    if new.location is not None:
        dependents.append(new.location)
    if record is not None:
        dependents.append(record)
    real = not alert.is_drill
    shape: _Shape = (tuple(type(d) for d in dependents), record is not None, real)
    statement = _TEMPLATES.get(shape)
    if statement is None:
        statement = _TEMPLATES.setdefault(shape, _template(shape))
    params: dict[str, Any] = {
        "dup_device_id": alert.device_id,
        "join_device_id": alert.device_id,
        "join_is_drill": alert.is_drill,
        "event_payload": new.event.payload,
        **_bind(alert, "alert", skip=("linked_alert_id",)),
        **_bind(new.event, "event", skip=("payload",)),
    }
    if real:
        params["reopen_device_id"] = params["recent_device_id"] = alert.device_id
        params["reopen_closed_after"] = alert.received_at - timedelta(seconds=rejoin_window_s)
        params["recent_after"] = alert.received_at - timedelta(hours=1)
        params["recent_max"] = rejoin_alerts_per_hour
    if record is not None:
        params["key_device_id"], params["key_key_hash"] = record.device_id, record.key_hash
    for n, row in enumerate(dependents):
        params.update(_bind(row, f"row{n}"))
    created = (await session.execute(statement, params)).scalar_one_or_none()
    if created is None:
        return False
    for table in ("alert", "outbox_event", "dispatch_task", "sla_clock"):
        note_written(session.sync_session, table)
    return True

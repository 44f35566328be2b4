"""Durable work for the dispatcher: rows written in the caller's transaction.

Any stage may ask for an alert to be (re)considered; only the dispatcher acts on it. A task is a
row, so it survives restarts, and a unique key per (alert, kind, ref) means asking twice queues
it once (the earlier due time wins).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import note_written
from app.models import DispatchTask
from app.upsert import dialect_insert

TaskKind = Literal["route", "offer_deadline", "lease_expiry", "repeat_press"]
RESCHEDULED = "sigap_rescheduled_tasks"
"""``session.info`` key: (alert, kind, ref) -> (due time asked for, replace_due) of this
transaction's ``schedule`` calls."""


def schedule_new(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    due_at: datetime,
    kind: TaskKind = "route",
    ref: str = "",
) -> None:
    """A task that cannot exist yet (a new alert's routing, a new offer's deadline): a plain
    insert in the caller's next flush, cheaper than an upsert on the hot paths."""
    session.add(
        DispatchTask(
            alert_id=alert_id, kind=kind, ref=ref, due_at=due_at, attempts=0, created_at=due_at
        )
    )


async def schedule(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    kind: TaskKind,
    due_at: datetime,
    now: datetime,
    ref: str = "",
    replace_due: bool = False,
) -> None:
    """Queue a task, or move an existing one: earlier wins, unless ``replace_due`` (a renewed
    lease moves its timer later)."""
    statement = dialect_insert(session, DispatchTask).values(
        alert_id=alert_id, kind=kind, ref=ref, due_at=due_at, attempts=0, created_at=now
    )
    excluded = statement.excluded.due_at
    # The earlier of the two: least() on PostgreSQL, the two-argument min() on SQLite.
    earlier = func.least if session.get_bind().dialect.name == "postgresql" else func.min
    new_due = excluded if replace_due else earlier(DispatchTask.due_at, excluded)
    note_written(session.sync_session, "dispatch_task")
    # Remembered so the task now running can tell, without a query, that its own row was moved.
    moves = session.sync_session.info.setdefault(RESCHEDULED, {})
    moves[(alert_id, kind, ref)] = (due_at, replace_due)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["alert_id", "kind", "ref"], set_={"due_at": new_due}
        )
    )

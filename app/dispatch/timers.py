"""Finishing a dispatcher task without losing a timer its own handler moved.

A lease-expiry task that finds the lease renewed reschedules itself: an upsert into the same
(alert, kind, ref) row, the one being run. Deleting that row afterwards, as every finished task
is, would drop the renewed lease's timer, and the claim would never lapse however long its holder
stays silent. So a task is deleted only if its due time is still the one it was run for. The
moves are known from ``schedule`` itself (``app.tasks.RESCHEDULED``): no query per task, and the
dispatcher's batch keeps its deletes in one flush.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import DispatchTask
from app.tasks import RESCHEDULED


async def finish_task(session: AsyncSession, task: DispatchTask, *, ran_for: datetime) -> None:
    """Delete ``task`` (done), unless its handler moved its due time from ``ran_for``: then it
    stays, due at the new time, as a fresh timer."""
    moves = session.sync_session.info.get(RESCHEDULED, {})
    move = moves.pop((task.alert_id, task.kind, task.ref), None)
    if move is not None:
        asked, replace_due = move
        due = asked if replace_due else min(ran_for, asked)
        if due != ran_for:
            if task.attempts:
                task.attempts = 0
            return
    await session.delete(task)

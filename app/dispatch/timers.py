"""Finishing a dispatcher task without losing a timer its own handler moved.

A lease-expiry task that finds the lease renewed reschedules itself: an upsert into the same
(alert, kind, ref) row, the one being run. Deleting that row afterwards, as every finished task
is, would drop the renewed lease's timer, and the claim would never lapse however long its holder
stays silent. So a task is deleted only if its due time is the one it was run for.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import DispatchTask


async def finish_task(session: AsyncSession, task: DispatchTask, *, ran_for: datetime) -> None:
    """Delete ``task`` (done), unless its handler moved its due time from ``ran_for``: then it
    stays, due at the new time, as a fresh timer."""
    await session.flush()
    await session.refresh(task, attribute_names=["due_at"])  # the upsert bypassed the ORM
    if task.due_at != ran_for:
        task.attempts = 0
        return
    await session.delete(task)

"""Figures for ``/metrics`` read from the database at scrape time (all processes' work alike)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Alert, DispatchTask, SlaClock


@dataclass(frozen=True)
class Snapshot:
    alerts_by_state: dict[str, int]
    clocks_by_status: dict[str, int]
    breaches_by_clock: dict[str, int]
    oldest_unacknowledged_s: float
    dispatch_queue_depth: int


async def snapshot(session: AsyncSession, now: datetime) -> Snapshot:
    by_state = {
        str(k): int(v)
        for k, v in (
            await session.execute(select(Alert.state, func.count()).group_by(Alert.state))
        ).all()
    }
    by_status = {
        str(k): int(v)
        for k, v in (
            await session.execute(
                select(SlaClock.status, func.count())
                .where(SlaClock.status.in_(("running", "warning")))
                .group_by(SlaClock.status)
            )
        ).all()
    }
    breaches = {
        str(k): int(v)
        for k, v in (
            await session.execute(
                select(SlaClock.clock, func.count())
                .where(SlaClock.status == "breached", SlaClock.excluded.is_(False))
                .group_by(SlaClock.clock)
            )
        ).all()
    }
    oldest = await session.scalar(
        select(func.min(Alert.received_at)).where(
            Alert.state.in_(("received", "routed")), Alert.is_drill.is_(False)
        )
    )
    depth = await session.scalar(
        select(func.count()).select_from(DispatchTask).where(DispatchTask.due_at <= now)
    )
    return Snapshot(
        alerts_by_state=by_state,
        clocks_by_status=by_status,
        breaches_by_clock=breaches,
        oldest_unacknowledged_s=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        dispatch_queue_depth=int(depth or 0),
    )

"""A repeat press on an alert someone already holds: the victim is still in danger, or waiting.

The holder (whoever accepted the claim) is told every time, within the per-alert limit of
routine messages. When the holder has shown no sign of life (no action, no console heartbeat)
for ``dispatch.repeat_press_supervisor_after_s``, the supervisors on duty are told too, as an
escalation: a victim pressing again while her counselor is silent must reach someone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import notify
from app.config import Settings
from app.models import Alert, Assignment, Region
from app.states import AlertState

HELD_STATES = frozenset(
    {AlertState.ACKNOWLEDGED, AlertState.CONTACTED, AlertState.ON_SCENE, AlertState.HANDED_OVER}
)


async def tell_of_repeat_press(
    session: AsyncSession, *, alert: Alert, at: datetime, settings: Settings
) -> None:
    """Called in the press's transaction, after the press joined ``alert``."""
    if AlertState(alert.state) not in HELD_STATES:
        return  # not held yet: the offers and SLA clocks already chase it
    held = (
        await session.execute(
            select(Assignment.accepted_by, Assignment.lease_expires_at).where(
                Assignment.alert_id == alert.id, Assignment.status == "accepted"
            )
        )
    ).all()
    holders = [holder for holder, _ in held if holder is not None]
    if not holders:
        return
    drill = "[LATIHAN/DRILL] " if alert.is_drill else ""
    dispatch = settings.dispatch
    await notify.queue(
        session,
        recipients=holders,
        kind="repeat_press",
        text=f"{drill}Sigap {alert.case_code}: the victim pressed again "
        f"({alert.press_count} presses). Contact her now.",
        alert_id=alert.id,
        ref=f"press-{alert.press_count}",
        now=at,
        settings=dispatch,
    )
    # The lease is renewed by every action and heartbeat: it ends lease_s after the last one.
    leases = [lease for _, lease in held if lease is not None]
    if not leases:
        return
    quiet = at - (max(leases) - timedelta(seconds=dispatch.lease_s))
    if quiet < timedelta(seconds=dispatch.repeat_press_supervisor_after_s):
        return
    region = await session.get(Region, alert.region_code)
    supervisors = await notify.supervisors_on_duty(
        session,
        region_code=alert.region_code,
        central_code=region.central_desk_code if region else "central",
        at=at,
    )
    await notify.queue(
        session,
        recipients=supervisors,
        kind="escalation",
        text=f"{drill}Sigap {alert.case_code}: the victim pressed again and her counselor has "
        f"been silent for {quiet.total_seconds() / 60:.0f} min. Follow up now.",
        alert_id=alert.id,
        ref=f"repeat-press-{alert.press_count}",
        now=at,
        settings=dispatch,
    )

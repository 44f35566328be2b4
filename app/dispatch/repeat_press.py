"""A repeat press on an alert someone already holds: the victim is still in danger, or waiting.

In: a ``repeat_press`` task, which the press queues in its own transaction (``app.tasks``) with
the ``alert.pressed_again`` event, so intake never calls into dispatch; the dispatcher runs it
moments later. Out: notifications. The holder (whoever accepted the claim) is told every time,
within the per-alert limit of routine messages. When the holder had shown no sign of life (no
action, no console heartbeat) for ``dispatch.repeat_press_supervisor_after_s`` at the press, the
supervisors on duty are told too, as an escalation: a victim pressing again while her counselor
is silent must reach someone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import notify
from app.config import DispatchSettings
from app.db import note_written
from app.models import Alert, Assignment
from app.states import AlertState

HELD_STATES = frozenset(
    {AlertState.ACKNOWLEDGED, AlertState.CONTACTED, AlertState.ON_SCENE, AlertState.HANDED_OVER}
)


async def tell_of_repeat_press(
    session: AsyncSession,
    *,
    alert: Alert,
    press_count: int,
    pressed_at: datetime,
    now: datetime,
    settings: DispatchSettings,
) -> None:
    """The ``repeat_press`` task of the ``press_count``-th press on ``alert``, received at
    ``pressed_at``; the dispatcher holds the alert's lock."""
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
    note_written(session.sync_session, "notification")  # wakes the notifier at commit
    await notify.queue(
        session,
        recipients=holders,
        kind="repeat_press",
        text=f"{drill}Sigap {alert.case_code}: the victim pressed again "
        f"({press_count} presses). Contact her now.",
        alert_id=alert.id,
        ref=f"press-{press_count}",
        now=now,
        settings=settings,
    )
    # The lease is renewed by every action and heartbeat: it ends lease_s after the last one.
    leases = [lease for _, lease in held if lease is not None]
    if not leases:
        return
    quiet = pressed_at - (max(leases) - timedelta(seconds=settings.lease_s))
    if quiet < timedelta(seconds=settings.repeat_press_supervisor_after_s):
        return
    supervisors = await notify.supervisors_on_duty(
        session,
        region_code=alert.region_code,
        at=now,
    )
    await notify.queue(
        session,
        recipients=supervisors,
        kind="escalation",
        text=f"{drill}Sigap {alert.case_code}: the victim pressed again and her counselor has "
        f"been silent for {quiet.total_seconds() / 60:.0f} min. Follow up now.",
        alert_id=alert.id,
        ref=f"repeat-press-{press_count}",
        now=now,
        settings=settings,
    )

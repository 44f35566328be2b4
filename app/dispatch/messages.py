"""Messages for staff without a live console: offers to on-call members and word to the
supervisors on duty (escalations, 112 hand-offs, unanswered transit offers). Queued in the
dispatcher's transaction, so a message exists exactly when what it tells of was committed; texts
carry the case code only, never a name, a phone number or whether the victim is a child."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app import notify
from app.db import note_written
from app.dispatch.availability import RegionSnapshot
from app.dispatch.runtime import Dispatch
from app.models import Alert

_NOTIFICATIONS = "sigap_batched_notifications"


def batch_notifications(session: AsyncSession) -> None:
    """From now on, messages queued in this session wait for ``queue_batched``: one count and
    one multi-row insert for a whole dispatcher batch instead of two statements per message."""
    session.info[_NOTIFICATIONS] = []


async def queue_batched(session: AsyncSession, *, dispatch: Dispatch, now: datetime) -> None:
    messages: list[notify.Message] = session.info.pop(_NOTIFICATIONS, None) or []
    if messages:
        note_written(session.sync_session, "notification")  # wakes the notifier at commit
        await notify.queue_many(session, messages, now=now, settings=dispatch.settings)


async def queue_message(
    session: AsyncSession,
    *,
    recipients: list[uuid.UUID],
    kind: str,
    text: str,
    alert_id: uuid.UUID,
    ref: str,
    now: datetime,
    dispatch: Dispatch,
    first: bool = False,
) -> None:
    message = notify.Message(tuple(recipients), kind, text, alert_id, ref, first)
    pending: list[notify.Message] | None = session.info.get(_NOTIFICATIONS)
    if pending is not None:
        pending.append(message)
        return
    note_written(session.sync_session, "notification")
    await notify.queue_many(session, [message], now=now, settings=dispatch.settings)


async def tell_supervisors(
    session: AsyncSession,
    *,
    alert: Alert,
    snapshot: RegionSnapshot,
    dispatch: Dispatch,
    now: datetime,
    kind: str,
    ref: str,
    what: str,
) -> None:
    recipients = await notify.supervisors_on_duty(
        session,
        region_code=alert.region_code,
        central_code=snapshot.central_code,
        at=now,
    )
    await queue_message(
        session,
        recipients=recipients,
        kind=kind,
        text=_text(alert, what),
        alert_id=alert.id,
        ref=ref,
        now=now,
        dispatch=dispatch,
    )


def offer_text(alert: Alert, unit_code: str, snapshot: RegionSnapshot, console_url: str) -> str:
    """For staff without a live console (on call): the kecamatan and a link that opens the alert
    in the console after sign-in — the alert's id is no personal data, and the console shows
    nothing without a staff session."""
    area = snapshot.area_name(alert.area_code)
    where = f" (Kec. {area})" if area else ""
    link = f"{console_url.rstrip('/')}/console/#/alert/{alert.id}" if console_url else ""
    action = f"open {link}" if link else "open the Sigap console now."
    return _text(alert, f"new alert for {unit_code}{where}; {action}")


def _text(alert: Alert, what: str) -> str:
    # The case code only: never a name, phone, or whether the victim is a child.
    drill = "[LATIHAN/DRILL] " if alert.is_drill else ""
    return f"{drill}Sigap {alert.case_code}: {what}"

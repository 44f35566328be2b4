"""Writing outbox events: always in the caller's transaction, never published before commit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import util as orm_util

from app.models import Alert, OutboxEvent

ATTENTION_TRIGGERS = frozenset(
    {
        "alert.escalated",
        "alert.transferred",
        "alert.pressed_again",
        "alert.duress_signalled",
        "alert.partner_status",
        "alert.handoff_unacknowledged",
        "alert.reopened",
        "alert.flood_suspected",
        "alert.resumed",
    }
)
"""Besides state stamps and leg changes, the events after which an alert's attention items
(``app.sla.attention``) may change: the alert is marked for the SLA monitor, which brings its
clocks and its items up to date."""


def emit(
    session: AsyncSession,
    event_type: str,
    *,
    at: datetime,
    alert_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> OutboxEvent:
    """Add an event to the session. Payloads hold ids and non-personal facts only."""
    event = OutboxEvent(
        event_type=event_type,
        alert_id=alert_id,
        payload={"alert_id": str(alert_id) if alert_id else None, **(data or {})},
        created_at=at,
    )
    session.add(event)
    if alert_id is not None and (
        event_type in ATTENTION_TRIGGERS or event_type.startswith("assignment.")
    ):
        # Only an alert this transaction has loaded (every site that emits these has: it
        # changed the alert or its legs under the alert's lock).
        alert = session.identity_map.get(orm_util.identity_key(Alert, alert_id))
        if isinstance(alert, Alert):
            alert.sla_dirty = True
    return event


ACCESS_CHANGED = "access.changed"
"""Someone's access changed (disabled, demoted, moved, signed out, revoked): every process's hub
has that subject's open streams checked again at once (app/realtime/hub.py), instead of at the
next revalidation tick. ``data``: ``{"subject": "staff:<id>" | "client:<id>" | "device:<id>"}``."""
PRESENCE_ENDED = "presence.ended"
"""A staff member left (a clean close, a page closed, signed out): processes that still hold
another of their streams write their presence again at once (app/realtime/presence.py)."""
INTERNAL_EVENTS = frozenset({ACCESS_CHANGED, PRESENCE_ENDED})
"""Signals between processes, carried by the outbox and its announcements like any event so
they cross processes in commit order; never sent on a stream nor to a webhook."""


def announce_access_changed(session: AsyncSession, *, subject: str, at: datetime) -> None:
    """In the caller's transaction: published only if the change commits."""
    emit(session, ACCESS_CHANGED, at=at, data={"subject": subject})

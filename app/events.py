"""Writing outbox events: always in the caller's transaction, never published before commit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import OutboxEvent


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
    return event

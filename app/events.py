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


CASE_CLOCKS = frozenset(
    {
        "police_report",
        "protection",
        "lpsk_request",
        "protection_expiry",
        "triage",
        "trafficking_services",
    }
)
"""The legal clocks of a case file (UPTD PPA's follow-up), as opposed to the alert's own."""


def is_case_matter(event_type: str, data: dict[str, Any]) -> bool:
    """Events about the case file (classification, legal deadlines): for UPTD PPA staff only,
    never for transit operators, who see the alert and nothing of the case behind it. Staff
    account security (``staff.sign_in_failures``) is internal in the same way, and never
    reaches integrators."""
    return event_type.startswith(("case.", "staff.")) or (
        event_type.startswith("sla.") and data.get("clock") in CASE_CLOCKS
    )

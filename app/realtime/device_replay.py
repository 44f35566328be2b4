"""A reconnecting phone replays only its own alerts' events.

A phone may see nothing but its own alerts (app/realtime/scopes.py), so reading every event of
the deployment since its cursor, to render almost all of them to nothing, would make thousands of
phones reconnecting after a network blip read the outbox thousands of times over. Its replay
reads by ``outbox_event (alert_id, seq)`` for the few alerts of that device instead.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select

from app.models import Alert, OutboxEvent


def only_device(query: Select[Any], device_id: uuid.UUID) -> Select[Any]:
    return query.where(
        OutboxEvent.alert_id.in_(select(Alert.id).where(Alert.device_id == device_id))
    )

"""The one state machine of an alert: every status change goes through ``transition``.

It refuses illegal transitions and stamps the server time of each, so every SLA interval is
measured from times this module wrote. The dispatcher adds routing, acknowledgement and progress;
escalation is an event and a step counter, never a state of its own.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from app.errors import IllegalTransition
from app.models import Alert


class AlertState(StrEnum):
    RECEIVED = "received"
    ROUTED = "routed"
    ACKNOWLEDGED = "acknowledged"
    CONTACTED = "contacted"
    ON_SCENE = "on_scene"
    HANDED_OVER = "handed_over"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


TERMINAL = frozenset({AlertState.RESOLVED, AlertState.CANCELLED})
_OPEN = frozenset(AlertState) - TERMINAL

ALLOWED: dict[AlertState, frozenset[AlertState]] = {
    AlertState.RECEIVED: frozenset({AlertState.ROUTED, AlertState.CANCELLED, AlertState.RESOLVED}),
    AlertState.ROUTED: frozenset(
        {AlertState.ACKNOWLEDGED, AlertState.CANCELLED, AlertState.RESOLVED}
    ),
    AlertState.ACKNOWLEDGED: frozenset(
        {
            AlertState.CONTACTED,
            AlertState.ON_SCENE,
            AlertState.HANDED_OVER,
            AlertState.CANCELLED,
            AlertState.RESOLVED,
        }
    ),
    AlertState.CONTACTED: frozenset(
        {AlertState.ON_SCENE, AlertState.HANDED_OVER, AlertState.CANCELLED, AlertState.RESOLVED}
    ),
    AlertState.ON_SCENE: frozenset(
        {AlertState.HANDED_OVER, AlertState.CANCELLED, AlertState.RESOLVED}
    ),
    AlertState.HANDED_OVER: frozenset({AlertState.RESOLVED}),
    AlertState.RESOLVED: frozenset(),
    AlertState.CANCELLED: frozenset(),
}


def is_open(state: str) -> bool:
    return AlertState(state) in _OPEN


def transition(alert: Alert, to: AlertState, *, at: datetime) -> None:
    """Move ``alert`` to ``to`` at server time ``at``, or raise IllegalTransition."""
    current = AlertState(alert.state)
    if to not in ALLOWED[current]:
        raise IllegalTransition(f"An alert cannot go from {current} to {to}.")
    alert.state = to.value
    alert.updated_at = at
    if to is AlertState.CANCELLED:
        alert.cancelled_at = at

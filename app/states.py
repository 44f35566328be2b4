"""The one state machine of an alert: every status change goes through ``transition``.

It refuses illegal transitions and stamps the server time of each, so every SLA interval is
measured from times this module wrote. The dispatcher adds routing, acknowledgement and progress;
escalation is an event and a step counter, never a state of its own.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

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
    # The victim's genuine cancel must succeed whatever staff have recorded: a refused cancel
    # would tell it apart from a duress cancel, which always "succeeds".
    AlertState.HANDED_OVER: frozenset({AlertState.RESOLVED, AlertState.CANCELLED}),
    AlertState.RESOLVED: frozenset(),
    AlertState.CANCELLED: frozenset(),
}


def is_open(state: str) -> bool:
    return AlertState(state) in _OPEN


_STAMP = {
    AlertState.ROUTED: "routed_at",
    AlertState.ACKNOWLEDGED: "acknowledged_at",
    AlertState.CONTACTED: "contacted_at",
    AlertState.ON_SCENE: "on_scene_at",
    AlertState.HANDED_OVER: "handed_over_at",
    AlertState.RESOLVED: "resolved_at",
    AlertState.CANCELLED: "cancelled_at",
}
MILESTONES = (AlertState.CONTACTED, AlertState.ON_SCENE, AlertState.HANDED_OVER)
_RANK = {state: rank for rank, state in enumerate(AlertState)}


def transition(alert: Alert, to: AlertState, *, at: datetime) -> None:
    """Move ``alert`` to ``to`` at server time ``at``, or raise IllegalTransition."""
    current = AlertState(alert.state)
    if to not in ALLOWED[current]:
        raise IllegalTransition(f"An alert cannot go from {current} to {to}.")
    alert.state = to.value
    alert.updated_at = at
    _stamp(alert, to, at)


def record_milestone(alert: Alert, milestone: AlertState, *, at: datetime) -> bool:
    """Stamp a responder's milestone (contacted, on scene, handed over) once.

    Milestones are not strictly ordered in real life (transit staff may be on scene before the
    counselor reaches the victim by phone), so each is stamped when it first happens and the
    state only ever moves forward. Returns False when it was already recorded.
    """
    if milestone not in MILESTONES:
        raise IllegalTransition(f"{milestone} is not a responder milestone.")
    current = AlertState(alert.state)
    if current in TERMINAL or current in (AlertState.RECEIVED, AlertState.ROUTED):
        raise IllegalTransition(f"An alert that is {current} takes no milestone; accept it first.")
    if getattr(alert, _STAMP[milestone]) is not None:
        return False
    _stamp(alert, milestone, at)
    alert.updated_at = at
    if _RANK[milestone] > _RANK[current]:
        alert.state = milestone.value
    return True


def _stamp(alert: Alert, state: AlertState, at: datetime) -> None:
    name = _STAMP.get(state)
    if name is not None and getattr(alert, name) is None:
        setattr(alert, name, at)
        alert.sla_dirty = True  # the SLA monitor derives its clocks from these stamps


_CLEARED_ON_DEVICE_REOPEN = (
    "routed_at",
    "acknowledged_at",
    "contacted_at",
    "on_scene_at",
    "handed_over_at",
    "handed_over_to",
    "transferred_at",
    "resolved_at",
    "disposition",
    "cancelled_at",
)


def reopen(alert: Alert, *, at: datetime, by: Literal["supervisor", "device"]) -> None:
    """The one definition of "reopen", for its two callers.

    - **A supervisor's reopen** (``by="supervisor"``, ``app.dispatch.progress``) takes a resolved
      alert back to where its work stood (the last milestone it reached). It is staff work only:
      the phone's view (``device_status``), its stream and its join rule stay as the resolution
      left them, so the holder of the phone learns nothing and a later press does not join it.
    - **The device's join** (``by="device"``, ``app.ingestion.press``): a press that reopens the
      device's latest alert, whatever its state, makes it ``received`` again at ``at`` with its
      progress stamps cleared, so it is routed afresh (a new ladder, a new acknowledgement clock,
      a new 112 hand-off if nobody takes it). What came before stays in its events
      (``alert.reopened``); what the phone sees is computed from its own facts by the caller.
    """
    alert.updated_at = at
    alert.sla_dirty = True  # the clocks derive from the stamps: they follow either way
    if by == "device":
        alert.state = AlertState.RECEIVED.value
        for name in _CLEARED_ON_DEVICE_REOPEN:
            setattr(alert, name, None)
        return
    current = AlertState(alert.state)
    if current is not AlertState.RESOLVED:
        raise IllegalTransition(f"Only a resolved alert is reopened, not a {current} one.")
    reached = [s for s in MILESTONES if getattr(alert, _STAMP[s]) is not None]
    alert.state = (reached[-1] if reached else _before_resolution(alert)).value
    alert.resolved_at = None
    alert.disposition = None


def _before_resolution(alert: Alert) -> AlertState:
    if alert.acknowledged_at is not None:
        return AlertState.ACKNOWLEDGED
    return AlertState.ROUTED if alert.routed_at is not None else AlertState.RECEIVED

"""Who may see which event on the stream: ``app.policy``'s need-to-know, applied to events.

Pure: an audience, an event and the facts about its alert (which units hold legs on it, whose
phone it is) in; the message to send, or None, out.

- Supervisors and admins: everything.
- Counselors, paralegals, transit staff: an alert's events within their unit's sight
  (``app.policy.sight``: from the first offer until its leg closed plus the late-accept grace,
  without end while a leg is open or completed), and every event about their own unit's legs (so
  a console also learns that an offer was withdrawn): ``assignment.*`` only, since elsewhere a
  ``unit_code`` names the unit of whoever acted. Judged by the event's own time, so a replay
  shows exactly what live delivery did. Payloads never carry contact data or free text; transit
  staff get them pseudonymous (``app.policy.profile``): no companion preference, and
  ``alert.do_not_call_back`` for a duress cancel.
- Integrators with the ``alerts:read`` scope: the events of alerts in their data scope
  (``app.policy.integrators``: a transit operator's alerts from its first offer, police from the
  hand-over to police, 112 from the transfer; never a drill), from the moment the alert entered
  the scope on, judged by the event's own time like a unit's sight; nothing of case files;
  pseudonymous like transit staff.
- A device: only its own alert's reassurance events, mapped to what the phone may know. A cancel
  under duress maps to exactly the message of a genuine cancel, and nothing after the phone saw
  its alert end is ever sent, so whoever holds the phone can tell nothing apart.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from app.policy.events import about_units_leg, is_case_matter, is_supervision_matter
from app.policy.integrators import NO_SCOPE, ClientScope, ScopeFacts, integrator_event
from app.policy.profile import pseudonymous_event
from app.policy.roles import PROVINCE_WIDE_ROLES, PSEUDONYMOUS_ROLES
from app.policy.sight import LegSight, unit_sight

__all__ = ["AlertFacts", "Audience", "LegSight", "ScopeFacts", "StreamEvent", "message_for"]

# Internal event -> (event name and status the phone sees).
_DEVICE_EVENTS: dict[str, tuple[str, str]] = {
    "alert.received": ("alert.received", "received"),
    "assignment.accepted": ("alert.acknowledged", "acknowledged"),
    "alert.on_scene": ("alert.on_scene", "help_on_scene"),
    "alert.resolved": ("alert.resolved", "resolved"),
    "alert.cancelled": ("alert.cancelled", "cancelled"),
    "alert.duress_signalled": ("alert.cancelled", "cancelled"),
    # A press that reopened the alert after the phone saw it end: received again.
    "alert.reopened": ("alert.received", "received"),
}


@dataclass(frozen=True)
class Audience:
    kind: Literal["staff", "integrator", "device"]
    role: str | None = None
    unit_id: uuid.UUID | None = None
    unit_code: str | None = None
    device_id: uuid.UUID | None = None
    scopes: frozenset[str] = frozenset()
    client_scope: ClientScope = NO_SCOPE
    """An integrator's data scope (which alerts, from when)."""


DEVICE_EVENT_TYPES = frozenset(_DEVICE_EVENTS)
"""The only events a phone may be shown (and so the only ones given a number on its stream)."""

DEVICE_CLOSING_EVENTS = ("alert.cancelled", "alert.duress_signalled", "alert.resolved")
"""The events that end what the phone sees of its alert (a duress cancel included)."""


DEVICE_REOPENING_EVENT = "alert.reopened"
"""A press reopened the alert (``app.ingestion.press``): the phone sees it again from there."""

DeviceWindows = tuple[tuple[int, int | None], ...]
"""(first, last) stream positions of each stretch the phone saw its alert active, in order;
the last is None while it still is."""


def device_windows(turns: list[tuple[int, str]]) -> DeviceWindows:
    """The phone's windows on one alert from its closing and reopening events, by position:
    from the start to the first close, then from each reopen to the next close."""
    windows: list[tuple[int, int | None]] = []
    start: int | None = 0
    for seq, event_type in turns:
        if event_type == DEVICE_REOPENING_EVENT:
            if start is None:
                start = seq
        elif start is not None:
            windows.append((start, seq))
            start = None
    if start is not None:
        windows.append((start, None))
    return tuple(windows)


OUT_OF_EVERY_SCOPE = ScopeFacts()
"""An alert no integrator's data scope holds (no transit offer, hand-over or transfer)."""


@dataclass(frozen=True)
class AlertFacts:
    device_id: uuid.UUID
    device_closed_seq: int | None
    """Stream position of the event that ended the phone's view; nothing after it reaches it."""
    device_windows: DeviceWindows | None = None
    """When the alert was ever reopened, every stretch the phone saw it active (closing
    events included): what the phone may be sent. None: up to ``device_closed_seq``."""
    legs: tuple[LegSight, ...] = ()
    scope: ScopeFacts = OUT_OF_EVERY_SCOPE
    """What integrators' data scopes read: drill, hand-over, transfer, transit offers."""

    def unit_saw(self, unit_id: uuid.UUID, at: datetime) -> bool:
        return unit_sight(self.legs, unit_id).covers(at)


@dataclass(frozen=True)
class StreamEvent:
    seq: int
    event: str
    at: datetime
    alert_id: uuid.UUID | None
    data: dict[str, Any]
    device_id: uuid.UUID | None = None
    device_seq: int | None = None
    """The event's number on its phone's own stream, if the phone sees it
    (app/realtime/device_stream.py)."""


def message_for(
    audience: Audience, event: StreamEvent, facts: AlertFacts | None
) -> tuple[str, dict[str, Any]] | None:
    """(event name, data) to send to ``audience``, or None when it may not see ``event``."""
    if audience.kind == "device":
        return _for_device(audience, event, facts)
    if audience.kind == "integrator":
        if event.alert_id is None or facts is None:
            return None  # the deployment's own operations (a spent budget) are for staff
        return integrator_event(
            audience.scopes,
            audience.client_scope,
            event.event,
            event.data,
            at=event.at,
            facts=facts.scope,
        )
    if audience.role in PROVINCE_WIDE_ROLES:
        return event.event, event.data
    if audience.unit_id is None or is_supervision_matter(event.event):
        return None
    pseudonymous = audience.role in PSEUDONYMOUS_ROLES
    if pseudonymous and is_case_matter(event.event, event.data):
        return None
    # Only leg events: a progress event's unit_code is the actor's unit, not a leg of it.
    about_own_leg = about_units_leg(event.event, event.data, audience.unit_code)
    if about_own_leg or (facts is not None and facts.unit_saw(audience.unit_id, event.at)):
        if pseudonymous:
            return pseudonymous_event(event.event, event.data)
        return event.event, event.data
    return None


def _for_device(
    audience: Audience, event: StreamEvent, facts: AlertFacts | None
) -> tuple[str, dict[str, Any]] | None:
    if facts is None or facts.device_id != audience.device_id or event.alert_id is None:
        return None
    mapped = _DEVICE_EVENTS.get(event.event)
    if mapped is None:
        return None
    if facts.device_windows is not None:
        if not any(
            first <= event.seq and (last is None or event.seq <= last)
            for first, last in facts.device_windows
        ):
            return None  # while the phone saw it ended, whatever staff did stays with staff
    elif facts.device_closed_seq is not None and event.seq > facts.device_closed_seq:
        return None  # the phone saw its alert end: whatever staff do next stays with staff
    name, status = mapped
    return name, {"alert_id": str(event.alert_id), "status": status}

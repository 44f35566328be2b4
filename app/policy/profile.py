"""The victim's profile for pseudonymous audiences (pure): companion preference and duress.

Transit staff and integrators must not learn the victim's preferred sex of companion (UU TPKS
Art. 26(4)) nor that the victim cancelled under duress. Both show elsewhere than in the alert's
own fields (``FieldAccess.shows_profile``): in the legs routing chose for the preference (their
``reason`` and ``preferred_sex``), in the routing explanation, and in the stream's events. Every
view of those asks here, with the caller's ``FieldAccess``:

- every leg's ``reason`` reads ``"withheld"`` (the routing explanation's legs and
  ``assignment.offered`` alike), and no leg names a sex: a reason withheld only on a
  preference leg would itself tell of the preference;
- ``alert.duress_signalled`` never reaches them, nor any stand-in for it
  (``app.policy.events.PROFILE_EVENTS``): on a duress cancel the alert, its legs and its events
  go on for them exactly as if there had been no cancel. Instead *every* alert tells them the
  same approach instruction (``approach``: ``APPROACH``, and ``do_not_call_back`` always
  true): she may be unable to talk, approach discreetly, the person with her may be the threat.
  A marker set only by a duress cancel would be the secret itself;
- ``linked_alert_id`` (the alert's own field and ``alert.received``'s) is null: a link means an
  earlier alert of the same phone was cancelled under duress and is still running;
- ``assignment.withdrawn`` says why by its ``reason_code`` alone: its ``reason`` may carry a
  supervisor's free text ("claim broken by supervisor: …"), which stays with UPTD PPA; so does a
  declining unit's own text (``assignment.declined``, a declined leg's ``close_reason``), and a
  re-offer's note in the routing explanation;
- ``alert.resolved`` with the disposition ``cancelled_under_duress`` reads
  ``cancelled_by_victim``: the record keeps why, they keep that it ended.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.policy.fields import FieldAccess

PROFILE_REASONS = frozenset({"companion_preference"})
"""Leg reasons that tell something of the victim's profile."""
WITHHELD_REASON = "withheld"
"""What a pseudonymous audience reads instead of such a reason."""

APPROACH = "discreet"
"""The approach instruction every pseudonymous reader gets with every alert: she may be unable to
talk; approach discreetly; the person with her may be the threat; do not call back."""
LEG_REASON_EVENTS = frozenset({"assignment.offered"})
"""Events whose ``reason`` is why routing offered the leg: withheld on every one."""
FREE_TEXT_REASON_EVENTS = frozenset({"assignment.withdrawn", "assignment.declined"})
"""Events whose ``reason`` may hold staff's free text; their ``reason_code`` says it in a word."""
LINKED_ALERT_KEY = "linked_alert_id"
"""The earlier alert, cancelled under duress and still running, that a new press is tied to."""


SUPERVISOR_TEXT_PREFIXES = ("claim broken by supervisor", "reassigned by supervisor")
"""A leg's ``close_reason`` that goes on with ": <the supervisor's words>"."""
DURESS_DISPOSITION, TOLD_DISPOSITION = "cancelled_under_duress", "cancelled_by_victim"


def close_reason(fields: FieldAccess, status: str, reason: str | None) -> str | None:
    """Why a leg closed, as ``fields`` may read it: without staff's free text."""
    if fields.shows_profile or reason is None:
        return reason
    if status == "declined":
        return WITHHELD_REASON  # the declining unit's own words
    for prefix in SUPERVISOR_TEXT_PREFIXES:
        if reason.startswith(prefix):
            return prefix
    return reason


def leg_reason(fields: FieldAccess, reason: str) -> str:
    """Why routing offered a unit the alert, as ``fields`` may read it."""
    return reason if fields.shows_profile else WITHHELD_REASON


def _withheld(reason: Any) -> Any:
    return WITHHELD_REASON if reason in PROFILE_REASONS else reason


def do_not_call_back(fields: FieldAccess, value: bool) -> bool:
    """Pseudonymous readers never call back (they hold no number) and are told so on every
    alert: true only after a duress cancel would tell them of it."""
    return value if fields.shows_profile else True


def approach(fields: FieldAccess) -> str | None:
    """The approach instruction: the same for every alert a pseudonymous reader sees; UPTD PPA
    staff read the alert's own facts instead (their views are unchanged)."""
    return None if fields.shows_profile else APPROACH


def disposition(fields: FieldAccess, value: str | None) -> str | None:
    """An alert's disposition as ``fields`` may read it: ``cancelled_under_duress`` is for UPTD
    PPA staff; everyone else reads ``cancelled_by_victim`` (the record keeps why)."""
    if value == DURESS_DISPOSITION and not fields.shows_profile:
        return TOLD_DISPOSITION
    return value


def preferred_sex(fields: FieldAccess, value: str | None) -> str | None:
    """The victim's preferred companion sex that a leg's unit has on duty: profile."""
    return value if fields.shows_profile else None


def linked_alert_id(fields: FieldAccess, value: uuid.UUID | None) -> uuid.UUID | None:
    """The duress alert a new alert is tied to: non-null tells of a duress cancel."""
    return value if fields.shows_profile else None


def routing_explanation(fields: FieldAccess, decision: dict[str, Any]) -> dict[str, Any]:
    """A routing decision's JSON (``app.dispatch.routing.Decision.to_json``) as ``fields`` may
    read it: its legs without the preference."""
    if fields.shows_profile:
        return decision
    reoffer = decision.get("reoffer")
    if isinstance(reoffer, dict) and "note" in reoffer:
        decision = {**decision, "reoffer": {**reoffer, "note": None}}  # a supervisor's words
    legs = decision.get("legs")
    if not isinstance(legs, list):
        return decision
    return {
        **decision,
        "legs": [
            {**leg, "reason": WITHHELD_REASON, "preferred_sex": None}
            if isinstance(leg, dict)
            else leg
            for leg in legs
        ],
    }


def pseudonymous_event(event_type: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An event (name, payload) as transit staff and integrators are told it (the events of
    ``app.policy.events.PROFILE_EVENTS`` never reach them: callers drop them first)."""
    told = data
    if event_type in LEG_REASON_EVENTS:
        told = {**told, "reason": WITHHELD_REASON}
    elif event_type in FREE_TEXT_REASON_EVENTS:
        # An event written before it carried a code: its text is withheld all the same.
        told = {**told, "reason": data.get("reason_code") or WITHHELD_REASON}
    elif data.get("reason") in PROFILE_REASONS:
        told = {**told, "reason": _withheld(data["reason"])}
    if told.get("disposition") == DURESS_DISPOSITION:
        told = {**told, "disposition": TOLD_DISPOSITION}
    if told.get(LINKED_ALERT_KEY) is not None:
        told = {**told, LINKED_ALERT_KEY: None}
    return event_type, told


def event_for(
    fields: FieldAccess, event_type: str, data: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """An event as an audience with ``fields`` is told it (the timeline, the stream)."""
    return (event_type, data) if fields.shows_profile else pseudonymous_event(event_type, data)

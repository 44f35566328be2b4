"""Which events belong to the case file (pure): UPTD PPA's matters, never transit operators' or
integrators'."""

from __future__ import annotations

from typing import Any

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

LEG_EVENT_PREFIX = "assignment."
"""Events about one leg (an offer to one unit: offered, accepted, declined, expired, withdrawn,
claim broken); their ``unit_code`` is the leg's unit. Elsewhere (progress, notes) a
``unit_code`` names the unit of whoever acted, which says nothing about whose leg it is."""

CONFIDENTIALITY_EVENTS = frozenset({"alert.restricted", "alert.unrestricted", "alert.glass_broken"})
"""Who restricted a record and who broke the glass on it: UPTD PPA's own oversight. Even the
fact that a record is restricted says something about who is in it."""


SUPERVISION_PREFIX = "attention."
"""Attention items (``app.sla.attention``): the supervisors' own work list, for supervisors and
admins only (a counselor's console has no use for "the supervisor was told")."""


def is_supervision_matter(event_type: str) -> bool:
    return event_type.startswith(SUPERVISION_PREFIX)


PROFILE_CLOCKS = frozenset({"first_contact"})
"""The counselor's first contact: whether it runs says whether the victim may be called back,
which a duress cancel changes (it closes or never starts). UPTD PPA's follow-up, not the
transit desk's: a clock present only on alerts not cancelled under duress would be a marker."""
UPTD_CLOCKS = CASE_CLOCKS | PROFILE_CLOCKS
"""Clocks (and their ``sla.*`` events) for UPTD PPA staff only."""

PROFILE_EVENTS = frozenset(
    {"alert.duress_signalled", "device.pins_changed", "device.pins_changed_under_duress"}
)
"""What the phone's holder did under duress, and the PIN changes that would show it by being
told (or not): the secret itself, for UPTD PPA staff only. Pseudonymous audiences get no
stand-in either, since a marker present only on duress alerts would be the secret again
(``app.policy.profile``)."""


def is_case_matter(event_type: str, data: dict[str, Any]) -> bool:
    """Events about the case file (classification, legal deadlines): for UPTD PPA staff only,
    never for transit operators, who see the alert and nothing of the case behind it. Staff
    account security (``staff.sign_in_failures``) and a record's restriction and break-glass
    are internal in the same way, and never reach integrators."""
    return (
        event_type.startswith(("case.", "staff.", SUPERVISION_PREFIX))
        or event_type in CONFIDENTIALITY_EVENTS
        or event_type in PROFILE_EVENTS
        or (event_type.startswith("sla.") and data.get("clock") in UPTD_CLOCKS)
    )


def about_units_leg(event_type: str, data: dict[str, Any], unit_code: str | None) -> bool:
    """The event is about a leg of ``unit_code``'s own: its staff are told whatever their sight
    (a console learns its offer was withdrawn even after the leg closed)."""
    return (
        unit_code is not None
        and event_type.startswith(LEG_EVENT_PREFIX)
        and data.get("unit_code") == unit_code
    )

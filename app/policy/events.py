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


def is_case_matter(event_type: str, data: dict[str, Any]) -> bool:
    """Events about the case file (classification, legal deadlines): for UPTD PPA staff only,
    never for transit operators, who see the alert and nothing of the case behind it. Staff
    account security (``staff.sign_in_failures``) is internal in the same way, and never
    reaches integrators."""
    return event_type.startswith(("case.", "staff.")) or (
        event_type.startswith("sla.") and data.get("clock") in CASE_CLOCKS
    )

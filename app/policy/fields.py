"""Which fields of an alert an audience may read (pure).

Two things narrow the staff view: pseudonymity (transit staff and integrators: nothing that names
or profiles the victim) and child identity (UU SPPA Art. 19: a child victim's name, contact and
even the fact that the victim is a child, only for those entitled to it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldAccess:
    pseudonymous: bool = False
    """No contact, free text, raw body, ``victim_is_child``, ``companion_preference``,
    ``duress``."""
    child_identity: bool = True
    """Entitled to a child victim's identity: the claim holder, supervisors, police after a
    hand-over to police."""
    case_matters: bool = True
    """May see the case file: classification, legal clocks, case events."""
    restricted: bool = False
    """A restricted record, seen by anyone but the unit holding the claim or a supervisor
    through the glass (``app.policy.restriction``): no identity at all, child or not."""

    def shows_identity(self, victim_is_child: bool | None) -> bool:
        """Contact, free text and the raw body (which may hold both)."""
        if self.pseudonymous or self.restricted:
            return False
        return self.child_identity or victim_is_child is not True

    @property
    def shows_child_flag(self) -> bool:
        return not self.pseudonymous and not self.restricted and self.child_identity

    @property
    def shows_notes(self) -> bool:
        """The notes' text: the case narrative, as identifying as the contact itself."""
        return not self.restricted

    @property
    def shows_profile(self) -> bool:
        """``companion_preference`` and ``duress``: for UPTD PPA staff, not transit or partners."""
        return not self.pseudonymous


FULL = FieldAccess()
"""Supervisors, admins, the unit holding the claim."""

TRANSIT = FieldAccess(pseudonymous=True, child_identity=False, case_matters=False)

OFFERED = FieldAccess(child_identity=False)
"""A post offered the alert but not holding it: works the alert, but a child's identity waits
for the claim."""

NOTIFICATION = FieldAccess(pseudonymous=True, child_identity=False, case_matters=False)
"""Anything that leaves through SMS, WhatsApp, voice, webhooks or logs: ids and case codes only."""

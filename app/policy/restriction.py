"""Restricted records and break-glass (pure).

An alert is restricted when knowing who is in it puts someone at risk or invites curiosity: the
victim or the reported person works here, is an LPSK-protected witness, or is a public figure.
Its identity (contact, free text, raw body, notes, ``victim_is_child``) is then shown only to the
unit holding the claim, which works the case and has to call the victim. A supervisor sees the
pseudonymous view with a "restricted" marker and may break the glass: a written reason buys full
sight of that one record for ``security.break_glass_s``, audited and reported. Admins run the
system, not cases: they never see a restricted record's identity.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Literal

from app.policy.fields import FieldAccess

RestrictionReason = Literal["staff_member", "protected_witness", "public_figure", "other"]
RESTRICTION_REASONS: tuple[RestrictionReason, ...] = (
    "staff_member",
    "protected_witness",
    "public_figure",
    "other",
)

GLASS_ROLES = frozenset({"supervisor"})
"""May break the glass (never admins)."""
CLAIM_ROLES = frozenset({"counselor", "paralegal"})
"""May restrict a record their unit holds the claim on (transit staff see no identity anyway)."""
LIFT_ROLES = frozenset({"supervisor"})

BREAK_GLASS_MIN_REASON = 20
"""Characters of the written reason, after trimming: a sentence, not "ok"."""
BREAK_GLASS_MIN_WORDS = 3


def may_restrict(role: str, *, holder: bool) -> bool:
    return role in GLASS_ROLES or (holder and role in CLAIM_ROLES)


def may_lift(role: str) -> bool:
    return role in LIFT_ROLES


def may_break_glass(role: str) -> bool:
    return role in GLASS_ROLES


def through_glass(role: str, glass_until: datetime | None, now: datetime) -> bool:
    """A supervisor's grant on this record is running (it ends at ``glass_until``, exclusive)."""
    return may_break_glass(role) and glass_until is not None and now < glass_until


def narrow(fields: FieldAccess, *, restricted: bool, entitled: bool) -> FieldAccess:
    """What a restricted record leaves of ``fields``: everything for the entitled (the claim
    holder, a supervisor through the glass), no identity for anyone else."""
    if not restricted or entitled or fields.restricted:
        return fields
    return replace(fields, restricted=True)

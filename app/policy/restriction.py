"""Restricted records and break-glass (pure).

An alert is restricted when knowing who is in it puts someone at risk or invites curiosity: the
victim or the reported person works here, is an LPSK-protected witness, or is a public figure.
Its identity (contact, free text, raw body, notes, ``victim_is_child``) is then shown only to the
unit that held its claim when it was restricted (it works the case, has seen it whole, and
restricting it was its own or a supervisor's call). Everyone else sees the pseudonymous view with
a "restricted" marker, and a supervisor may break the glass: a written reason buys full sight of
that one record for ``security.break_glass_s``, audited and reported.

Taking a claim and seeing identity are separate. Accepting a restricted alert is never refused
(at night the central desk must be able to take it), but a claim taken on an already restricted
record works from the pseudonymous view (location, trail, actions); its counselor or paralegal
sees the identity only through the glass, as a supervisor does. So reassigning a restricted alert
to one's own desk and accepting it opens nothing (it used to open everything, unreported), and
the report lists such claims beside every grant. Admins run the system, not cases: they never see
a restricted record's identity, not through a claim, not through the glass.
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
"""May break the glass on any restricted record (never admins)."""
CLAIM_ROLES = frozenset({"counselor", "paralegal"})
"""May restrict a record their unit holds the claim on, and break the glass on one their unit
claimed after it was restricted (transit staff see no identity anyway)."""
LIFT_ROLES = frozenset({"supervisor"})
NEVER_IDENTITY = frozenset({"admin"})
"""Never see a restricted record's identity, whatever claim they hold."""

BREAK_GLASS_MIN_REASON = 20
"""Characters of the written reason, after trimming: a sentence, not "ok"."""
BREAK_GLASS_MIN_WORDS = 3


def may_restrict(role: str, *, holder: bool) -> bool:
    return role in GLASS_ROLES or (holder and role in CLAIM_ROLES)


def may_lift(role: str) -> bool:
    return role in LIFT_ROLES


def may_break_glass(role: str, *, holder: bool = False) -> bool:
    """Supervisors on any restricted record; a counselor or paralegal on one their unit holds."""
    return role in GLASS_ROLES or (holder and role in CLAIM_ROLES)


def may_ever_break_glass(role: str) -> bool:
    """Whether grants of this role are worth loading at all."""
    return role in GLASS_ROLES or role in CLAIM_ROLES


def through_glass(
    role: str, glass_until: datetime | None, now: datetime, *, holder: bool = False
) -> bool:
    """The caller's grant on this record is running (it ends at ``glass_until``, exclusive); a
    counselor's only while their unit still holds the claim."""
    return may_break_glass(role, holder=holder) and glass_until is not None and now < glass_until


def claim_entitles(
    role: str, *, claimed_at: datetime | None, restricted_at: datetime | None
) -> bool:
    """A claim shows a restricted record's identity only if it was taken before the record was
    restricted; one taken on a record already restricted (or at the very same instant: when in
    doubt, closed) shows the pseudonymous view. Never to admins."""
    if role in NEVER_IDENTITY or claimed_at is None:
        return False
    return restricted_at is None or claimed_at < restricted_at


def narrow(fields: FieldAccess, *, restricted: bool, entitled: bool) -> FieldAccess:
    """What a restricted record leaves of ``fields``: everything for the entitled (the claim
    holder, a supervisor through the glass), no identity for anyone else."""
    if not restricted or entitled or fields.restricted:
        return fields
    return replace(fields, restricted=True)

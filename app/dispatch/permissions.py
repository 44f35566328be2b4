"""What a person may do on an alert now, and why not (pure): one judgement for both sides.

The read model (``GET /v1/alerts/{id}``, the queue's rows) shows each action's verdict to the
caller, and the action services (``claims``, ``progress``) call the very same ``may_*`` function
when the action arrives and refuse with the verdict's reason, so a button and its answer cannot
disagree. Nothing here reads the database or the clock: the facts and ``now`` are passed in.

The leg model (PRODUCT.md section 2, steps 3-5): each leg (an offer to one unit) has its own offer,
acceptance and duties. The UPTD PPA leg (a post, or the central desk) holds the case: first
contact, the hand-over to police, health or shelter, and the resolution. A transit leg acts on the
spot: on scene, and a hand-over to the counselor that the UPTD PPA leg's holder takes up. Holding a
transit leg never blocks the UPTD PPA legs, nor the other way round.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.access import StaffPrincipal
from app.errors import (
    AlertClosed,
    ClaimHeld,
    DomainError,
    Forbidden,
    IllegalTransition,
    NotFound,
    OfferClosed,
)
from app.models import Alert, Assignment
from app.policy.roles import LATE_ACCEPT_GRACE, PROVINCE_WIDE_ROLES

PPA_KINDS = ("post", "central")
"""UPTD PPA's legs (the escalation ladder): the case's follow-up belongs to whoever holds one."""
ANSWERERS = frozenset({"counselor", "paralegal", "transit_staff", "supervisor", "admin"})
PPA_ROLES = frozenset({"counselor", "paralegal", "supervisor", "admin"})
CLOSED = frozenset({"resolved", "cancelled"})
HANDED_TO_COUNSELOR = "handed to counselor"
"""A transit leg's close reason once its holder handed the victim to the counselor."""

ACTIONS = (
    "accept",
    "decline",
    "contacted",
    "on_scene",
    "handed_over",
    "hand_to_counselor",
    "resolve",
    "note",
    "reassign",
    "break_claim",
    "reopen",
)

DONE_ALREADY = frozenset({"accepted_by_you", "recorded"})
"""Refused on the read model (nothing to do), but the action answers as done: a retry after a
lost answer must not fail."""

_ERRORS: dict[str, type[DomainError]] = {
    "role": Forbidden,
    "closed": AlertClosed,
    "not_offered": NotFound,
    "held_by_other": ClaimHeld,
    "offer_closed": OfferClosed,
    "no_claim": OfferClosed,
    "not_holding": Forbidden,
    "ppa_leg_only": Forbidden,
    "transit_leg_only": Forbidden,
    "not_acknowledged": IllegalTransition,
    "do_not_call_back": IllegalTransition,
    "not_resolved": IllegalTransition,
    "reopen_window_passed": IllegalTransition,
}
REASONS = frozenset(_ERRORS) | DONE_ALREADY


@dataclass(frozen=True)
class LegFacts:
    id: uuid.UUID
    unit_id: uuid.UUID
    unit_code: str
    leg_kind: str
    status: str
    offered_at: datetime
    deadline_at: datetime
    accepted_by: uuid.UUID | None = None
    accepted_at: datetime | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None

    @property
    def ppa(self) -> bool:
        return self.leg_kind in PPA_KINDS


@dataclass(frozen=True)
class AlertFacts:
    state: str
    do_not_call_back: bool
    contacted_at: datetime | None
    on_scene_at: datetime | None
    handed_over_at: datetime | None
    resolved_at: datetime | None
    legs: tuple[LegFacts, ...]


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID
    unit_id: uuid.UUID | None
    role: str

    @property
    def province_wide(self) -> bool:
        return self.role in PROVINCE_WIDE_ROLES


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str | None = None
    until: datetime | None = None
    """A time-bound action may be taken until then (an offer's deadline, a late accept's grace,
    the reopen window)."""
    assignment_id: uuid.UUID | None = None
    """The leg the action is on (accept, decline, break_claim)."""

    def refuse(self, detail: str, *, extra: dict[str, object] | None = None) -> DomainError:
        """The problem the action answers with; it names the same ``reason`` as the read."""
        assert self.reason is not None
        error = _ERRORS[self.reason]
        return error(detail, extra={"reason": self.reason, **(extra or {})})


YES = Verdict(True)


def no(
    reason: str, *, until: datetime | None = None, assignment_id: uuid.UUID | None = None
) -> Verdict:
    return Verdict(False, reason, until=until, assignment_id=assignment_id)


def _held(legs: Iterable[LegFacts]) -> list[LegFacts]:
    return [leg for leg in legs if leg.status == "accepted"]


def held_by(facts: AlertFacts, actor: Actor) -> list[LegFacts]:
    """The legs this person holds now."""
    return [leg for leg in _held(facts.legs) if leg.accepted_by == actor.user_id]


def unit_leg(facts: AlertFacts, actor: Actor) -> LegFacts | None:
    """The caller's unit's leg to answer: an open one, else its latest (a late accept)."""
    mine = [leg for leg in facts.legs if actor.unit_id is not None and leg.unit_id == actor.unit_id]
    open_ = [leg for leg in mine if leg.status in ("offered", "accepted")]
    if open_:
        return max(open_, key=lambda leg: (leg.status == "offered", leg.offered_at))
    return max(mine, key=lambda leg: leg.offered_at) if mine else None


def may_accept(facts: AlertFacts, actor: Actor, leg: LegFacts | None, now: datetime) -> Verdict:
    if actor.role not in ANSWERERS:
        return no("role")
    if leg is None:
        return no("not_offered")
    on = leg.id
    if facts.state in CLOSED:
        return no("closed", assignment_id=on)
    if leg.status == "accepted":
        mine = leg.accepted_by == actor.user_id
        return no("accepted_by_you" if mine else "held_by_other", assignment_id=on)
    # One UPTD PPA leg holds the case; a transit claim never blocks it. Likewise one transit
    # desk holds the transit side: a station's Pos SAPA and its control room are offered at once,
    # and the first to accept holds it.
    if any(g.ppa == leg.ppa and g.id != leg.id for g in _held(facts.legs)):
        return no("held_by_other", assignment_id=on)
    if leg.status == "offered":
        return Verdict(True, until=leg.deadline_at, assignment_id=leg.id)
    if leg.status == "expired" and leg.closed_at is not None:
        until = leg.closed_at + LATE_ACCEPT_GRACE
        if now <= until:  # a late acceptance of an offer that just timed out is still welcome
            return Verdict(True, until=until, assignment_id=leg.id)
    return no("offer_closed", assignment_id=on)


def may_decline(facts: AlertFacts, actor: Actor, leg: LegFacts | None) -> Verdict:
    if actor.role not in ANSWERERS:
        return no("role")
    if leg is None:
        return no("not_offered")
    if leg.status != "offered":
        return no("offer_closed", assignment_id=leg.id)
    return Verdict(True, until=leg.deadline_at, assignment_id=leg.id)


def _may_work(facts: AlertFacts, actor: Actor) -> Verdict:
    if actor.role not in ANSWERERS:
        return no("role")
    if facts.state in CLOSED:
        return no("closed")
    if not held_by(facts, actor) and not actor.province_wide:
        return no("not_holding")
    return YES


def _holds_ppa(facts: AlertFacts, actor: Actor) -> bool:
    return actor.province_wide or any(leg.ppa for leg in held_by(facts, actor))


def may_record(facts: AlertFacts, actor: Actor, milestone: str) -> Verdict:
    """``contacted`` and ``handed_over`` (to police, health, shelter) are the UPTD PPA leg's duties;
    ``on_scene`` is anyone's who holds a leg."""
    base = _may_work(facts, actor)
    if not base.allowed:
        return base
    if milestone in ("contacted", "handed_over") and not _holds_ppa(facts, actor):
        return no("ppa_leg_only")
    if facts.state in ("received", "routed"):
        return no("not_acknowledged")  # a supervisor on an alert nobody accepted yet
    if milestone == "contacted" and facts.do_not_call_back:
        return no("do_not_call_back")
    stamp = {
        "contacted": facts.contacted_at,
        "on_scene": facts.on_scene_at,
        "handed_over": facts.handed_over_at,
    }[milestone]
    return no("recorded") if stamp is not None else YES


def may_hand_to_counselor(facts: AlertFacts, actor: Actor) -> Verdict:
    """A transit leg's holder hands the victim to the counselor: that leg ends, the UPTD PPA leg's
    holder takes the follow-up."""
    base = _may_work(facts, actor)
    if not base.allowed:
        if base.reason == "not_holding" and _handed_by(facts, actor):
            return no("recorded")
        return base
    transit = [leg for leg in held_by(facts, actor) if leg.leg_kind == "transit"]
    if not transit:
        return no("recorded") if _handed_by(facts, actor) else no("transit_leg_only")
    return Verdict(True, assignment_id=transit[0].id)


def _handed_by(facts: AlertFacts, actor: Actor) -> bool:
    return any(
        leg.leg_kind == "transit"
        and leg.accepted_by == actor.user_id
        and leg.close_reason == HANDED_TO_COUNSELOR
        for leg in facts.legs
    )


def may_resolve(facts: AlertFacts, actor: Actor) -> Verdict:
    base = _may_work(facts, actor)
    if not base.allowed:
        return base
    return YES if _holds_ppa(facts, actor) else no("ppa_leg_only")


def may_note(facts: AlertFacts, actor: Actor) -> Verdict:
    return _may_work(facts, actor)


def may_reassign(facts: AlertFacts, actor: Actor) -> Verdict:
    if not actor.province_wide:
        return no("role")
    return no("closed") if facts.state in CLOSED else YES


def claim_to_break(facts: AlertFacts) -> LegFacts | None:
    """The claim a supervisor's "break" frees: the UPTD PPA leg's first, else a transit one."""
    held = _held(facts.legs)
    return next((g for g in held if g.ppa), held[0] if held else None)


def may_break_claim(facts: AlertFacts, actor: Actor, leg: LegFacts | None) -> Verdict:
    if not actor.province_wide:
        return no("role")
    if facts.state in CLOSED:
        return no("closed")
    if leg is None or leg.status != "accepted":
        return no("no_claim", assignment_id=leg.id if leg else None)
    return Verdict(True, assignment_id=leg.id)


def may_reopen(facts: AlertFacts, actor: Actor, now: datetime, window: timedelta) -> Verdict:
    """A supervisor reopens a resolved alert within ``window`` of its resolution (a cancelled one
    is the victim's, and stays so)."""
    if not actor.province_wide:
        return no("role")
    if facts.state != "resolved" or facts.resolved_at is None:
        return no("not_resolved")
    until = facts.resolved_at + window
    if now > until:
        return no("reopen_window_passed", until=until)
    return Verdict(True, until=until)


def judge_all(
    facts: AlertFacts, actor: Actor, *, now: datetime, reopen_window: timedelta
) -> dict[str, Verdict]:
    """Every action's verdict for this person, as the read model shows it."""
    leg = unit_leg(facts, actor)
    return {
        "accept": may_accept(facts, actor, leg, now),
        "decline": may_decline(facts, actor, leg),
        "contacted": may_record(facts, actor, "contacted"),
        "on_scene": may_record(facts, actor, "on_scene"),
        "handed_over": may_record(facts, actor, "handed_over"),
        "hand_to_counselor": may_hand_to_counselor(facts, actor),
        "resolve": may_resolve(facts, actor),
        "note": may_note(facts, actor),
        "reassign": may_reassign(facts, actor),
        "break_claim": may_break_claim(facts, actor, claim_to_break(facts)),
        "reopen": may_reopen(facts, actor, now, reopen_window),
    }


def facts_of(alert: Alert, legs: Sequence[Assignment]) -> AlertFacts:
    """The facts of an alert and its legs as loaded (no query)."""
    return AlertFacts(
        state=alert.state,
        do_not_call_back=alert.do_not_call_back,
        contacted_at=alert.contacted_at,
        on_scene_at=alert.on_scene_at,
        handed_over_at=alert.handed_over_at,
        resolved_at=alert.resolved_at,
        legs=tuple(
            LegFacts(
                id=g.id,
                unit_id=g.unit_id,
                unit_code=g.unit_code,
                leg_kind=g.leg_kind,
                status=g.status,
                offered_at=g.offered_at,
                deadline_at=g.deadline_at,
                accepted_by=g.accepted_by,
                accepted_at=g.accepted_at,
                closed_at=g.closed_at,
                close_reason=g.close_reason,
            )
            for g in legs
        ),
    )


def actor_of(staff: StaffPrincipal) -> Actor:
    return Actor(user_id=staff.user_id, unit_id=staff.unit_id, role=staff.role)

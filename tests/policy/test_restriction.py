"""The pure core of restricted records and break-glass: who sees a restricted record's identity,
table-driven, with no database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.access import StaffPrincipal
from app.models import Alert
from app.policy.alerts import AlertAccess, decide
from app.policy.fields import FULL, OFFERED, TRANSIT, FieldAccess
from app.policy.restriction import (
    claim_entitles,
    may_break_glass,
    may_lift,
    may_restrict,
    narrow,
    through_glass,
)
from app.policy.sight import LegSight

T0 = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
KB, KL, TJ = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
CLAIMED = T0 - timedelta(minutes=1)
"""The claims were taken before the record was restricted (at ``T0``)."""
LEGS = (
    LegSight(KB, CLAIMED, None, "offered", unit_code="3171060"),
    LegSight(KL, CLAIMED, None, "accepted", unit_code="3171050", accepted_at=CLAIMED),
    LegSight(TJ, CLAIMED, None, "accepted", unit_code="transjakarta", accepted_at=CLAIMED),
)
WHO = {
    "holder_counselor": ("counselor", KL),
    "holder_paralegal": ("paralegal", KL),
    "offered_counselor": ("counselor", KB),
    "transit_holder": ("transit_staff", TJ),
    "supervisor": ("supervisor", None),
    "admin": ("admin", None),
}


def staff(who: str) -> StaffPrincipal:
    role, unit = WHO[who]
    return StaffPrincipal(uuid.uuid4(), who, role, unit, None, None)


def alert(*, restricted: bool, child: bool = False) -> Alert:
    return Alert(
        id=uuid.uuid4(),
        device_id=uuid.uuid4(),
        victim_is_child=child,
        restricted_at=T0 if restricted else None,
        restriction_reason="staff_member" if restricted else None,
    )


def access(who: str, subject: Alert, glass_until: datetime | None = None) -> AlertAccess:
    answer = decide(
        staff(who), subject, LEGS, now=T0 + timedelta(minutes=5), glass_until=glass_until
    )
    assert isinstance(answer, AlertAccess)
    return answer


# who -> (sees identity of an adult's unrestricted alert, of a restricted one, its child flag)
EXPECTED = {
    "holder_counselor": (True, True, True),
    "holder_paralegal": (True, True, True),
    "offered_counselor": (True, False, False),
    "transit_holder": (False, False, False),
    "supervisor": (True, False, False),
    "admin": (True, False, False),
}


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_a_restricted_record_shows_its_identity_only_to_the_unit_holding_the_claim(
    who: str,
) -> None:
    open_, restricted, child_flag = EXPECTED[who]
    assert access(who, alert(restricted=False)).fields.shows_identity(False) is open_
    closed = access(who, alert(restricted=True, child=True))
    assert closed.fields.shows_identity(True) is restricted
    assert closed.fields.shows_identity(False) is restricted
    assert closed.fields.shows_child_flag is child_flag
    assert closed.fields.shows_notes is (restricted or who == "transit_holder")
    assert closed.restricted


def test_unrestricted_alerts_answer_exactly_as_before() -> None:
    plain = alert(restricted=False)
    assert access("supervisor", plain) == AlertAccess(fields=FULL)
    assert access("offered_counselor", plain).fields == OFFERED
    assert access("transit_holder", plain).fields == TRANSIT
    assert not access("supervisor", plain, glass_until=T0 + timedelta(hours=1)).restricted


@pytest.mark.parametrize(
    ("who", "glass_end_min", "whole", "may_break"),
    [
        ("supervisor", None, False, True),  # no grant: the pseudonymous view and how to break
        ("supervisor", 30, True, False),  # through the glass
        ("supervisor", 5, False, True),  # the grant ended at this very moment (exclusive)
        ("supervisor", 4, False, True),  # ended a minute ago
        ("admin", 30, False, False),  # admins never, even with a grant row somehow
    ],
)
def test_the_glass_opens_a_restricted_record_for_a_supervisor_until_the_grant_ends(
    who: str, glass_end_min: int | None, whole: bool, may_break: bool
) -> None:
    until = T0 + timedelta(minutes=glass_end_min) if glass_end_min is not None else None
    answer = access(who, alert(restricted=True, child=True), glass_until=until)
    assert answer.fields.shows_identity(True) is whole
    assert answer.fields.shows_child_flag is whole
    assert answer.may_break_glass is may_break
    assert answer.glass_until == (until if whole else None)


@pytest.mark.parametrize(
    ("role", "holder", "restrict", "lift", "glass"),
    [
        ("supervisor", False, True, True, True),
        ("admin", False, False, False, False),
        ("admin", True, False, False, False),
        ("counselor", True, True, False, True),  # a claim taken on a restricted record
        ("paralegal", True, True, False, True),
        ("counselor", False, False, False, False),
        ("transit_staff", True, False, False, False),
    ],
)
def test_who_may_restrict_lift_and_break_the_glass(
    role: str, holder: bool, restrict: bool, lift: bool, glass: bool
) -> None:
    assert may_restrict(role, holder=holder) is restrict
    assert may_lift(role) is lift
    assert may_break_glass(role, holder=holder) is glass
    assert through_glass(role, T0 + timedelta(seconds=1), T0, holder=holder) is glass


CENTRAL = uuid.uuid4()


def claimed_after_restriction(who: str, staff_id: uuid.UUID) -> tuple[LegSight, ...]:
    """The restricted record (since ``T0``) was reassigned to the central desk and accepted
    there a minute later, by ``staff_id``; the post that held it was withdrawn."""
    return (
        LegSight(KL, CLAIMED, T0 + timedelta(seconds=30), "withdrawn", unit_code="3171050"),
        LegSight(
            CENTRAL,
            T0 + timedelta(seconds=30),
            None,
            "accepted",
            unit_code="central",
            accepted_by=staff_id,
            accepted_at=T0 + timedelta(minutes=1),
        ),
    )


# who -> (may break the glass without a grant, sees identity through a running grant)
CLAIMERS = {
    "counselor": (True, True),  # the central desk at night
    "paralegal": (True, True),
    "supervisor": (True, True),
    "admin": (False, False),  # never, even holding the claim and with a grant row somehow
}


@pytest.mark.parametrize("role", sorted(CLAIMERS))
def test_a_claim_taken_on_a_restricted_record_works_pseudonymously_until_the_glass(
    role: str,
) -> None:
    may_break, through = CLAIMERS[role]
    person = StaffPrincipal(uuid.uuid4(), role, role, CENTRAL, "central", None)
    subject = alert(restricted=True, child=True)
    legs = claimed_after_restriction(role, person.user_id)
    now = T0 + timedelta(minutes=5)
    blind = decide(person, subject, legs, now=now)
    assert isinstance(blind, AlertAccess)
    assert blind.holds_claim and blind.restricted
    # The pseudonymous view: no identity, no notes, no child flag; the way through the glass.
    assert not blind.fields.shows_identity(False) and not blind.fields.shows_notes
    assert not blind.fields.shows_child_flag
    assert blind.may_break_glass is may_break
    grant = decide(person, subject, legs, now=now, glass_until=now + timedelta(minutes=30))
    assert isinstance(grant, AlertAccess)
    assert grant.fields.shows_identity(True) is through
    assert grant.glass_until == (now + timedelta(minutes=30) if through else None)


def test_a_counselors_grant_opens_nothing_once_her_unit_no_longer_holds_the_claim() -> None:
    person = StaffPrincipal(uuid.uuid4(), "k", "counselor", CENTRAL, "central", None)
    subject = alert(restricted=True)
    held = claimed_after_restriction("counselor", person.user_id)
    # Her claim lapsed a minute ago: she may still open the alert (a late accept's grace).
    lapsed = (held[0], LegSight(CENTRAL, T0, T0 + timedelta(minutes=2), "lapsed"))
    now, until = T0 + timedelta(minutes=3), T0 + timedelta(minutes=30)
    answer = decide(person, subject, lapsed, now=now, glass_until=until)
    assert isinstance(answer, AlertAccess) and not answer.holds_claim
    assert not answer.fields.shows_identity(False) and not answer.may_break_glass
    assert answer.glass_until is None


@pytest.mark.parametrize(
    ("claimed_s", "entitled"),
    [(-60, True), (-1, True), (0, False), (1, False), (3600, False)],
)
def test_only_a_claim_taken_before_the_restriction_shows_its_identity(
    claimed_s: int, entitled: bool
) -> None:
    """The holder who restricts what she holds keeps it; a claim taken afterwards (or at the
    very same instant: when in doubt, closed) does not, for a counselor or a supervisor alike."""
    for role in ("counselor", "supervisor"):
        at = T0 + timedelta(seconds=claimed_s)
        assert claim_entitles(role, claimed_at=at, restricted_at=T0) is entitled
    assert not claim_entitles("admin", claimed_at=T0 - timedelta(days=1), restricted_at=T0)
    assert not claim_entitles("counselor", claimed_at=None, restricted_at=T0)


@pytest.mark.parametrize("fields", [FULL, OFFERED, TRANSIT, FieldAccess(restricted=True)])
def test_narrowing_only_ever_takes_away(fields: FieldAccess) -> None:
    assert narrow(fields, restricted=False, entitled=False) == fields
    assert narrow(fields, restricted=True, entitled=True) == fields
    narrowed = narrow(fields, restricted=True, entitled=False)
    for child in (True, False, None):
        assert not narrowed.shows_identity(child)
    assert not narrowed.shows_child_flag and not narrowed.shows_notes
    assert narrowed.shows_profile is fields.shows_profile  # do-not-call-back logic untouched
    assert narrowed.case_matters is fields.case_matters

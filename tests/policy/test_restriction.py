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
from app.policy.restriction import may_break_glass, may_lift, may_restrict, narrow, through_glass
from app.policy.sight import LegSight

T0 = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
KB, KL, TJ = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
LEGS = (
    LegSight(KB, T0, None, "offered", unit_code="3171060"),
    LegSight(KL, T0, None, "accepted", unit_code="3171050"),
    LegSight(TJ, T0, None, "accepted", unit_code="transjakarta"),
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
        ("counselor", True, True, False, False),
        ("paralegal", True, True, False, False),
        ("counselor", False, False, False, False),
        ("transit_staff", True, False, False, False),
    ],
)
def test_who_may_restrict_lift_and_break_the_glass(
    role: str, holder: bool, restrict: bool, lift: bool, glass: bool
) -> None:
    assert may_restrict(role, holder=holder) is restrict
    assert may_lift(role) is lift
    assert may_break_glass(role) is glass
    assert through_glass(role, T0 + timedelta(seconds=1), T0) is glass


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

"""The pure core of need-to-know: until when a unit sees an alert, table-driven."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.policy.fields import FULL, OFFERED, TRANSIT
from app.policy.roles import CLOSED_LEG_STATUSES, LATE_ACCEPT_GRACE
from app.policy.sight import GRACE_STATUSES, LegSight, late_accept_open, passed_to, unit_sight

T0 = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
KB, KL = uuid.uuid4(), uuid.uuid4()


def leg(unit: uuid.UUID, status: str, *, closed_s: int | None = None, code: str = "x") -> LegSight:
    closed = T0 + timedelta(seconds=closed_s) if closed_s is not None else None
    return LegSight(unit, T0, closed, status, unit_code=code)


@pytest.mark.parametrize("status", sorted(CLOSED_LEG_STATUSES))
def test_a_closed_leg_shows_what_happened_to_the_close_and_opens_for_the_grace(status: str) -> None:
    sight = unit_sight([leg(KB, status, closed_s=60)], KB)
    close = T0 + timedelta(seconds=60)
    # Only an expired offer or a lapsed claim can still be taken up; a decline, a withdrawal or
    # a release ends the unit's sight at the close.
    end = close + LATE_ACCEPT_GRACE if status in GRACE_STATUSES else close
    assert sight.sees_at(end)
    assert not sight.sees_at(end + timedelta(seconds=1))
    assert sight.covers(close) and not sight.covers(close + timedelta(seconds=1))


@pytest.mark.parametrize("status", ["offered", "accepted", "completed"])
def test_an_open_or_completed_leg_keeps_sight_without_end(status: str) -> None:
    sight = unit_sight([leg(KB, status)], KB)
    assert sight.until is None and sight.sees_at(T0 + timedelta(days=30))
    assert not sight.covers(T0 - timedelta(seconds=1))  # nothing from before the first offer


def test_a_unit_never_offered_sees_nothing_and_legs_add_up() -> None:
    assert not unit_sight([leg(KL, "accepted")], KB).ever_offered
    assert not unit_sight([], None).ever_offered
    again = unit_sight([leg(KB, "expired", closed_s=60), leg(KB, "offered")], KB)
    assert again.until is None  # offered again: sight again


def test_passed_to_names_the_holder_first_then_open_offers() -> None:
    legs = [
        leg(KB, "expired", closed_s=60, code="kb"),
        leg(uuid.uuid4(), "offered", code="central"),
        leg(KL, "accepted", code="kl"),
    ]
    assert passed_to(legs) == ["kl", "central"]


def test_a_late_accept_is_open_only_within_the_grace() -> None:
    closed = T0
    assert late_accept_open("offered", None, T0 + timedelta(days=1))
    assert late_accept_open("expired", closed, closed + LATE_ACCEPT_GRACE)
    assert not late_accept_open(
        "expired", closed, closed + LATE_ACCEPT_GRACE + timedelta(seconds=1)
    )
    assert not late_accept_open("withdrawn", closed, closed)


@pytest.mark.parametrize(
    ("access", "child", "identity", "child_flag", "profile"),
    [
        (FULL, True, True, True, True),
        (OFFERED, False, True, False, True),
        (OFFERED, True, False, False, True),
        (OFFERED, None, True, False, True),
        (TRANSIT, False, False, False, False),
    ],
)
def test_field_access_by_audience(
    access: object, child: bool | None, identity: bool, child_flag: bool, profile: bool
) -> None:
    from app.policy.fields import FieldAccess

    assert isinstance(access, FieldAccess)
    assert access.shows_identity(child) is identity
    assert access.shows_child_flag is child_flag
    assert access.shows_profile is profile

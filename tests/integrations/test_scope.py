"""The data scope decision, table-driven and pure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.integrations.scope import (
    ClientScope,
    ScopeFacts,
    covers,
    entered_scope_at,
    may_see,
    scope_until,
)
from app.policy.roles import LATE_ACCEPT_GRACE
from app.policy.sight import LegSight

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
TJ, MRT = ClientScope("transit", "transjakarta"), ClientScope("transit", "mrt")
POLICE, SIAGA = ClientScope("police"), ClientScope("112")
DESK, HALTE = uuid.uuid4(), uuid.uuid4()
"""Two units of one operator: its control desk and a station help desk."""


def offers(*offered: tuple[str, datetime]) -> ScopeFacts:
    """Transit legs still open (offered), by (operator, offered at)."""
    return ScopeFacts(
        transit_legs=tuple((code, LegSight(DESK, at, None, "offered")) for code, at in offered)
    )


def leg(
    status: str, closed_at: datetime | None, unit: uuid.UUID = DESK, offered_at: datetime = NOW
) -> tuple[str, LegSight]:
    return ("transjakarta", LegSight(unit, offered_at, closed_at, status))


@pytest.mark.parametrize(
    ("scope", "facts", "entered"),
    [
        (SIAGA, ScopeFacts(transferred_at=NOW), NOW),
        (SIAGA, ScopeFacts(), None),
        (SIAGA, ScopeFacts(transferred_at=NOW, is_drill=True), None),
        (SIAGA, ScopeFacts(handed_over_to="police", handed_over_at=NOW), None),
        (POLICE, ScopeFacts(handed_over_to="police", handed_over_at=LATER), LATER),
        (POLICE, ScopeFacts(handed_over_to="shelter", handed_over_at=NOW), None),
        (POLICE, ScopeFacts(transferred_at=NOW), None),
        (POLICE, ScopeFacts(handed_over_to="police", handed_over_at=NOW, is_drill=True), None),
        (TJ, offers(("transjakarta", NOW)), NOW),
        # Offered twice (re-routed after the victim moved): in scope from the first offer.
        (TJ, offers(("transjakarta", LATER), ("transjakarta", NOW)), NOW),
        (TJ, offers(("mrt", NOW), ("transjakarta", LATER)), LATER),
        (MRT, offers(("transjakarta", NOW)), None),
        (
            TJ,
            ScopeFacts(transit_legs=offers(("transjakarta", NOW)).transit_legs, is_drill=True),
            None,
        ),
        (ClientScope("transit", None), offers(("transjakarta", NOW)), None),
        (ClientScope("none"), ScopeFacts(transferred_at=NOW, handed_over_to="police"), None),
        (ClientScope("unknown"), ScopeFacts(transferred_at=NOW), None),
    ],
)
def test_when_each_alert_enters_each_scope(
    scope: ClientScope, facts: ScopeFacts, entered: datetime | None
) -> None:
    assert entered_scope_at(scope, facts) == entered
    assert may_see(scope, facts, entered or NOW) is (entered is not None)


@pytest.mark.parametrize(
    ("scope", "facts", "at", "shown"),
    [
        # An event is shown when it happened at or after the alert entered the scope.
        (POLICE, ScopeFacts(handed_over_to="police", handed_over_at=LATER), NOW, False),
        (POLICE, ScopeFacts(handed_over_to="police", handed_over_at=LATER), LATER, True),
        (POLICE, ScopeFacts(handed_over_to="police", handed_over_at=NOW), LATER, True),
        (SIAGA, ScopeFacts(transferred_at=LATER), LATER - timedelta(microseconds=1), False),
        (SIAGA, ScopeFacts(transferred_at=LATER), LATER, True),
        (TJ, offers(("transjakarta", NOW)), NOW, True),
        (
            TJ,
            offers(("transjakarta", NOW)),
            NOW - timedelta(seconds=1),
            False,
        ),
        (MRT, offers(("transjakarta", NOW)), LATER, False),
        (SIAGA, ScopeFacts(transferred_at=NOW, is_drill=True), LATER, False),
        (SIAGA, ScopeFacts(), LATER, False),
    ],
)
def test_which_events_of_an_alert_a_scope_covers(
    scope: ClientScope, facts: ScopeFacts, at: datetime, shown: bool
) -> None:
    assert covers(scope, facts, at) is shown


CLOSED = LATER
GRACE_END = CLOSED + LATE_ACCEPT_GRACE


@pytest.mark.parametrize(
    ("legs", "until", "open_at", "shut_at"),
    [
        # Its only leg expired: its system sees the alert as its staff do, events up to the
        # close, the alert itself through the grace, then nothing.
        ((leg("expired", CLOSED),), CLOSED, GRACE_END, GRACE_END + timedelta(seconds=1)),
        ((leg("lapsed", CLOSED),), CLOSED, GRACE_END, GRACE_END + timedelta(seconds=1)),
        # Declined or withdrawn: nothing left to accept, so no grace.
        ((leg("declined", CLOSED),), CLOSED, CLOSED, CLOSED + timedelta(seconds=1)),
        ((leg("withdrawn", CLOSED),), CLOSED, CLOSED, CLOSED + timedelta(seconds=1)),
        # Open, held or completed: no end.
        ((leg("offered", None),), None, GRACE_END + timedelta(days=1), None),
        ((leg("accepted", None),), None, GRACE_END + timedelta(days=1), None),
        ((leg("completed", CLOSED),), None, GRACE_END + timedelta(days=1), None),
        # The control desk's leg closed but the station's is open: the operator still has it.
        (
            (leg("expired", CLOSED), leg("offered", None, HALTE, CLOSED)),
            None,
            GRACE_END + timedelta(days=1),
            None,
        ),
        # Offered again after an expiry, then declined: the last close ends it.
        (
            (leg("expired", NOW + timedelta(minutes=1)), leg("declined", CLOSED, HALTE)),
            CLOSED,
            CLOSED,
            CLOSED + timedelta(seconds=1),
        ),
    ],
)
def test_a_transit_operators_scope_ends_with_its_last_leg(
    legs: tuple[tuple[str, LegSight], ...],
    until: datetime | None,
    open_at: datetime,
    shut_at: datetime | None,
) -> None:
    facts = ScopeFacts(transit_legs=legs)
    assert entered_scope_at(TJ, facts) == NOW
    assert scope_until(TJ, facts) == until
    assert covers(TJ, facts, NOW) and covers(TJ, facts, until or open_at)
    if until is not None:
        assert not covers(TJ, facts, until + timedelta(microseconds=1))
    assert may_see(TJ, facts, open_at)
    if shut_at is not None:
        assert not may_see(TJ, facts, shut_at)
    # Another operator never had it.
    assert not may_see(MRT, facts, NOW) and not covers(MRT, facts, NOW)


@pytest.mark.parametrize(
    ("scope", "facts"),
    [
        (POLICE, ScopeFacts(handed_over_to="police", handed_over_at=NOW)),
        (SIAGA, ScopeFacts(transferred_at=NOW)),
    ],
)
def test_police_and_112_keep_what_was_handed_to_them(scope: ClientScope, facts: ScopeFacts) -> None:
    much_later = NOW + timedelta(days=30)
    assert scope_until(scope, facts) is None
    assert may_see(scope, facts, much_later) and covers(scope, facts, much_later)

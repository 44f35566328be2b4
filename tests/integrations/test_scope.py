"""The data scope decision, table-driven and pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.integrations.scope import (
    ClientScope,
    ScopeFacts,
    covers,
    entered_scope_at,
    may_see,
)

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
TJ, MRT = ClientScope("transit", "transjakarta"), ClientScope("transit", "mrt")
POLICE, SIAGA = ClientScope("police"), ClientScope("112")


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
        (TJ, ScopeFacts(transit_offers=(("transjakarta", NOW),)), NOW),
        # Offered twice (re-routed after the victim moved): in scope from the first offer.
        (TJ, ScopeFacts(transit_offers=(("transjakarta", LATER), ("transjakarta", NOW))), NOW),
        (TJ, ScopeFacts(transit_offers=(("mrt", NOW), ("transjakarta", LATER))), LATER),
        (MRT, ScopeFacts(transit_offers=(("transjakarta", NOW),)), None),
        (TJ, ScopeFacts(transit_offers=(("transjakarta", NOW),), is_drill=True), None),
        (ClientScope("transit", None), ScopeFacts(transit_offers=(("transjakarta", NOW),)), None),
        (ClientScope("none"), ScopeFacts(transferred_at=NOW, handed_over_to="police"), None),
        (ClientScope("unknown"), ScopeFacts(transferred_at=NOW), None),
    ],
)
def test_when_each_alert_enters_each_scope(
    scope: ClientScope, facts: ScopeFacts, entered: datetime | None
) -> None:
    assert entered_scope_at(scope, facts) == entered
    assert may_see(scope, facts) is (entered is not None)


@pytest.mark.parametrize(
    ("scope", "facts", "at", "shown"),
    [
        # An event is shown when it happened at or after the alert entered the scope.
        (POLICE, ScopeFacts(handed_over_to="police", handed_over_at=LATER), NOW, False),
        (POLICE, ScopeFacts(handed_over_to="police", handed_over_at=LATER), LATER, True),
        (POLICE, ScopeFacts(handed_over_to="police", handed_over_at=NOW), LATER, True),
        (SIAGA, ScopeFacts(transferred_at=LATER), LATER - timedelta(microseconds=1), False),
        (SIAGA, ScopeFacts(transferred_at=LATER), LATER, True),
        (TJ, ScopeFacts(transit_offers=(("transjakarta", NOW),)), NOW, True),
        (
            TJ,
            ScopeFacts(transit_offers=(("transjakarta", NOW),)),
            NOW - timedelta(seconds=1),
            False,
        ),
        (MRT, ScopeFacts(transit_offers=(("transjakarta", NOW),)), LATER, False),
        (SIAGA, ScopeFacts(transferred_at=NOW, is_drill=True), LATER, False),
        (SIAGA, ScopeFacts(), LATER, False),
    ],
)
def test_which_events_of_an_alert_a_scope_covers(
    scope: ClientScope, facts: ScopeFacts, at: datetime, shown: bool
) -> None:
    assert covers(scope, facts, at) is shown

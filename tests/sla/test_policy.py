"""The SLA policy as a table: which clocks an alert has, and how each ends."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.sla.policy import (
    AlertTimes,
    ClockPlan,
    Targets,
    excluded,
    outcome,
    plan_clocks,
    status_at,
)

T = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
TARGETS = Targets(
    version="t",
    seconds={"routing": 5, "acknowledgement": 60, "on_scene:transit": 600, "on_scene": 1800},
    warn_fraction=0.75,
)


def times(**changes: object) -> AlertTimes:
    values: dict[str, object] = {
        "received_at": T,
        "routed_at": None,
        "acknowledged_at": None,
        "contacted_at": None,
        "on_scene_at": None,
        "handed_over_at": None,
        "resolved_at": None,
        "cancelled_at": None,
        "state": "received",
        "is_drill": False,
        "disposition": None,
        "do_not_call_back": False,
        "responder_kind": None,
    }
    values.update(changes)
    return AlertTimes(**values)  # type: ignore[arg-type]


def s(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        (times(), [("routing", None)]),
        (times(routed_at=s(2)), [("routing", s(2)), ("acknowledgement", None)]),
        (
            times(routed_at=s(2), acknowledged_at=s(30), contacted_at=s(90)),
            [
                ("routing", s(2)),
                ("acknowledgement", s(30)),
                ("first_contact", s(90)),
                ("on_scene", None),
            ],
        ),
        (  # "do not call back" (duress): no first-contact clock at all
            times(routed_at=s(2), acknowledged_at=s(30), do_not_call_back=True),
            [("routing", s(2)), ("acknowledgement", s(30)), ("on_scene", None)],
        ),
        (  # on scene stops at the first of on scene and handed over
            times(routed_at=s(2), acknowledged_at=s(30), handed_over_at=s(300), on_scene_at=s(400)),
            [
                ("routing", s(2)),
                ("acknowledgement", s(30)),
                ("first_contact", None),
                ("on_scene", s(300)),
            ],
        ),
    ],
)
def test_clocks_follow_the_stamps(alert: AlertTimes, expected: list[tuple[str, object]]) -> None:
    assert [(p.clock, p.stopped_at) for p in plan_clocks(alert)] == expected


def test_on_scene_target_depends_on_who_accepted() -> None:
    transit = plan_clocks(times(routed_at=s(1), acknowledged_at=s(2), responder_kind="transit"))
    post = plan_clocks(times(routed_at=s(1), acknowledged_at=s(2), responder_kind="post"))
    assert [p.target_key for p in transit][-1] == "on_scene:transit"
    assert TARGETS.target("on_scene:transit") == timedelta(seconds=600)
    assert TARGETS.target([p.target_key for p in post][-1]) == timedelta(seconds=1800)


@pytest.mark.parametrize(
    ("stopped", "closed", "now", "expected"),
    [
        (s(60), None, s(61), "met"),  # stopping exactly at the deadline is met
        (s(60.001), None, s(61), "breached"),
        (None, None, s(59.999), "running"),
        (None, None, s(60), "breached"),
        (None, s(30), s(100), "closed"),  # the alert ended in time: not a breach
        (None, s(61), s(100), "breached"),  # it ended after the deadline had passed
    ],
)
def test_outcomes_at_the_boundaries(
    stopped: datetime | None, closed: datetime | None, now: datetime, expected: str
) -> None:
    plan = ClockPlan("acknowledgement", "acknowledgement", T, stopped)
    assert outcome(plan, deadline_at=s(60), alert_closed_at=closed, now=now) == expected


def test_warning_is_three_quarters_of_the_target() -> None:
    warn, deadline = TARGETS.deadlines(ClockPlan("acknowledgement", "acknowledgement", T, None))
    assert (warn - T, deadline - T) == (timedelta(seconds=45), timedelta(seconds=60))


@pytest.mark.parametrize(
    ("alert", "is_excluded"),
    [
        (times(is_drill=True), True),
        (times(state="resolved", disposition="accidental"), True),
        (times(state="cancelled", cancelled_at=s(10)), True),  # cancelled by the victim at once
        (times(state="routed", do_not_call_back=True), False),  # duress: never excluded
        (times(state="resolved", disposition="false_alarm"), False),
    ],
)
def test_drills_and_accidental_presses_are_excluded(alert: AlertTimes, is_excluded: bool) -> None:
    assert excluded(alert) is is_excluded


ON_SCENE_OPEN = ClockPlan("on_scene", "on_scene:post", T, None)


@pytest.mark.parametrize(
    ("stored", "plan", "closed", "now", "expected"),
    [
        # The alert resolved before the deadline, without anyone on scene: stopped with it.
        ("running", ON_SCENE_OPEN, s(600), s(601), "closed"),
        ("warning", ON_SCENE_OPEN, s(1500), s(1501), "closed"),
        # ... and it stays so after the deadline: never a breach after the close.
        ("running", ON_SCENE_OPEN, s(600), s(1800), "closed"),
        ("running", ON_SCENE_OPEN, s(600), s(86400), "closed"),
        # The deadline had passed when the alert ended: breached (the monitor may be late).
        ("running", ON_SCENE_OPEN, s(1800), s(1801), "breached"),
        ("warning", ON_SCENE_OPEN, s(2000), s(2001), "breached"),
        # What the monitor has written is final.
        ("breached", ON_SCENE_OPEN, s(600), s(601), "breached"),
        ("met", ON_SCENE_OPEN, s(600), s(601), "met"),
        ("closed", ON_SCENE_OPEN, s(600), s(601), "closed"),
        # The target event came before the close: met, judged by the stamps themselves.
        ("running", replace(ON_SCENE_OPEN, stopped_at=s(300)), s(600), s(601), "met"),
        ("running", replace(ON_SCENE_OPEN, stopped_at=s(1801)), s(1900), s(1901), "breached"),
        # The clock no longer applies (first contact after "do not call back").
        ("running", None, None, s(10), "closed"),
        # The alert still open: running, warning from the warning time, breached at the deadline.
        ("running", ON_SCENE_OPEN, None, s(1349), "running"),
        ("running", ON_SCENE_OPEN, None, s(1350), "warning"),
        ("warning", ON_SCENE_OPEN, None, s(1351), "warning"),
        ("warning", ON_SCENE_OPEN, None, s(1800), "breached"),
        # Legal clocks outlive the alert: the police report is still due after it closed.
        (
            "running",
            ClockPlan("police_report", "police_report", T, None),
            s(600),
            s(601),
            "running",
        ),
    ],
)
def test_a_clock_as_it_stands_now(
    stored: str, plan: ClockPlan | None, closed: datetime | None, now: datetime, expected: str
) -> None:
    deadline = s(259200) if plan is not None and plan.clock == "police_report" else s(1800)
    warn = T + (deadline - T) * 0.75
    found = status_at(
        stored, plan, warn_at=warn, deadline_at=deadline, alert_closed_at=closed, now=now
    )
    assert found == expected

"""One definition of "reopen" (``app.states.reopen``), flagged for whether the device sees it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.errors import IllegalTransition
from app.models import Alert
from app.states import AlertState, reopen, transition

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def _resolved(*, contacted: bool) -> Alert:
    alert = Alert(id=uuid.uuid4(), state="received", device_status="active", joinable=True)
    transition(alert, AlertState.ROUTED, at=T0)
    transition(alert, AlertState.ACKNOWLEDGED, at=T0 + timedelta(seconds=20))
    if contacted:
        transition(alert, AlertState.CONTACTED, at=T0 + timedelta(seconds=90))
    transition(alert, AlertState.RESOLVED, at=T0 + timedelta(minutes=30))
    alert.disposition = "assisted"
    alert.device_status, alert.device_closed_at, alert.joinable = (
        "resolved",
        alert.resolved_at,
        False,
    )
    return alert


@pytest.mark.parametrize(("contacted", "back_to"), [(True, "contacted"), (False, "acknowledged")])
def test_a_supervisors_reopen_goes_back_to_the_work_and_leaves_the_device_as_it_was(
    contacted: bool, back_to: str
) -> None:
    alert = _resolved(contacted=contacted)
    closed_at = alert.device_closed_at
    reopen(alert, at=T0 + timedelta(hours=1), by="supervisor")
    assert (alert.state, alert.resolved_at, alert.disposition) == (back_to, None, None)
    assert (alert.device_status, alert.device_closed_at, alert.joinable) == (
        "resolved",
        closed_at,
        False,
    )


def test_the_devices_reopen_starts_the_alert_afresh_whatever_its_state() -> None:
    alert = _resolved(contacted=True)
    reopen(alert, at=T0 + timedelta(hours=1), by="device")
    assert alert.state == "received"
    assert (alert.acknowledged_at, alert.contacted_at, alert.resolved_at) == (None, None, None)


@pytest.mark.parametrize("state", ["acknowledged", "cancelled"])
def test_only_a_resolved_alert_is_reopened(state: str) -> None:
    alert = Alert(id=uuid.uuid4(), state=state, device_status="active", joinable=True)
    with pytest.raises(IllegalTransition):
        reopen(alert, at=T0, by="supervisor")

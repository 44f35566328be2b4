"""Which due messages go out together (pure), the budget's calendar, and the settings check."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from app.config import DispatchSettings
from app.notify.budget import CRITICAL, ORDINARY, local_day, pool_of
from app.notify.digest import DIGEST_MAX_CHARS, Due, compose, plan
from app.realtime.scopes import Audience, StreamEvent, message_for

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
ANA, BUDI = uuid.uuid4(), uuid.uuid4()


def due(kind: str, person: uuid.UUID = ANA, **fields: object) -> Due:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "recipient_id": person,
        "username": "ana",
        "phone": None,
        "kind": kind,
        "text": f"Sigap SGP-{kind}: something.",
        "status": "queued",
        "digest_id": None,
        "attempts": 0,
    }
    values.update(fields)
    return Due(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "pool"),
    [
        ("offer", ORDINARY),
        ("escalation", CRITICAL),
        ("transfer", CRITICAL),
        ("handoff_unacknowledged", CRITICAL),  # 112 is silent: "phone 112 now"
        ("repeat_press", ORDINARY),
        ("sla_breached", CRITICAL),
        ("loop_stalled", CRITICAL),
        ("notify_capped", CRITICAL),
    ],
)
def test_each_kind_spends_from_its_pool(kind: str, pool: str) -> None:
    assert pool_of(kind) == pool


def test_critical_messages_to_one_person_go_as_one_and_routine_ones_alone() -> None:
    rows = [due("escalation"), due("offer"), due("transfer"), due("escalation", BUDI), due("offer")]
    sends, held = plan(rows, last_critical={}, window_s=300, now=NOW)
    assert held == {}
    assert [[r.kind for r in s.rows] for s in sends] == [
        ["escalation", "transfer"],
        ["offer"],
        ["escalation"],
        ["offer"],
    ]
    assert sends[0].id == rows[0].id and sends[0].kind == "digest"
    assert sends[2].kind == "escalation"


def test_within_the_window_of_the_last_critical_send_a_message_waits_for_its_end() -> None:
    rows = [due("escalation"), due("escalation", BUDI)]
    last = {ANA: NOW - timedelta(seconds=100), BUDI: NOW - timedelta(seconds=400)}
    sends, held = plan(rows, last_critical=last, window_s=300, now=NOW)
    assert held == {rows[0].id: NOW + timedelta(seconds=200)}
    assert [s.rows for s in sends] == [[rows[1]]]
    assert plan(rows, last_critical=last, window_s=0, now=NOW)[1] == {}  # no coalescing


def test_a_dead_senders_digest_is_resent_whole_under_its_id() -> None:
    lead = uuid.uuid4()
    rows = [
        due("escalation", status="sending", digest_id=lead),
        due("transfer", status="sending", digest_id=lead),
        due("escalation", status="sending"),
    ]
    sends, _ = plan(rows, last_critical={ANA: NOW}, window_s=300, now=NOW)
    assert [(s.id, len(s.rows)) for s in sends] == [(lead, 2), (rows[2].id, 1)]


def test_a_digest_lists_what_fits_and_counts_the_rest() -> None:
    assert compose(["Sigap SGP-1: escalated."]) == "Sigap SGP-1: escalated."
    assert compose(["Sigap SGP-1: a.", "Sigap SGP-2: b."]) == (
        "Sigap: 2 urgent updates: SGP-1: a. SGP-2: b. Open the Sigap console."
    )
    many = [f"Sigap SGP-{n:04d}: escalated; nobody accepted it." for n in range(40)]
    text = compose(many)
    assert len(text) <= DIGEST_MAX_CHARS
    shown = text.count("SGP-")
    assert 0 < shown < 40 and f"(+{40 - shown} more)" in text


def test_the_day_rolls_over_at_midnight_in_jakarta() -> None:
    jakarta = ZoneInfo("Asia/Jakarta")
    assert local_day(datetime(2026, 11, 23, 16, 59, tzinfo=UTC), jakarta).day == 23
    assert local_day(datetime(2026, 11, 23, 17, 0, tzinfo=UTC), jakarta).day == 24


def test_a_claim_lease_shorter_than_a_slow_batch_is_refused() -> None:
    with pytest.raises(ValidationError, match="notify_claim_lease_s"):
        DispatchSettings(notify_claim_lease_s=10, notify_http_timeout_s=5)
    DispatchSettings(notify_claim_lease_s=60, notify_http_timeout_s=5, notify_batch_size=8)


def test_integrators_do_not_see_the_deployments_own_operations() -> None:
    event = StreamEvent(1, "notification.cap_reached", NOW, None, {"pool": "ordinary"})
    integrator = Audience(kind="integrator", scopes=frozenset({"alerts:read"}))
    assert message_for(integrator, event, None) is None
    supervisor = Audience(kind="staff", role="supervisor")
    assert message_for(supervisor, event, None) == ("notification.cap_reached", event.data)

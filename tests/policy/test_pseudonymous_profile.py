"""Pseudonymous audiences (transit staff, integrators) learn nothing of the victim's companion
preference or of a duress cancel, wherever it shows: the alert, its legs and routing
explanation, the offers list, the timeline and the stream. They keep "do not call back"."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.clock import FrozenClock
from app.context import AppContext
from app.policy.integrators import ClientScope
from app.policy.sight import LegSight
from app.realtime.scopes import AlertFacts, Audience, ScopeFacts, StreamEvent, message_for
from tests.dispatch.staffing import drain, legs, on_duty, token_on_duty
from tests.helpers import auth, integrator_token, press, press_body, register, staff_token
from tests.realtime.live import live_server, settled, stream

KB, KL = "3171060", "3171050"
T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
PROFILE = ("companion_preference", "female", "duress")
"""Nothing a pseudonymous audience gets may name these, but for the alert view's own (null)
``companion_preference`` and ``duress`` fields."""


def _profile_in(text: str) -> list[str]:
    for empty in ('"companion_preference":null', '"duress":null'):
        text = text.replace(empty, "")
    return [word for word in PROFILE if word in text]


TJ_UNIT = uuid.uuid4()
TRANSIT = Audience(kind="staff", role="transit_staff", unit_id=TJ_UNIT, unit_code="transjakarta")
COUNSELOR = Audience(kind="staff", role="counselor", unit_id=TJ_UNIT, unit_code="transjakarta")
SUPERVISOR = Audience(kind="staff", role="supervisor", unit_id=uuid.uuid4(), unit_code="central")
POLICE = Audience(
    kind="integrator", scopes=frozenset({"alerts:read"}), client_scope=ClientScope("police")
)
FACTS = AlertFacts(
    device_id=uuid.uuid4(),
    device_closed_seq=None,
    legs=(LegSight(TJ_UNIT, T0, None, "accepted"),),
    scope=ScopeFacts(handed_over_to="police", handed_over_at=T0),
)


def _event(name: str, data: dict[str, Any]) -> StreamEvent:
    alert_id = uuid.uuid4()
    return StreamEvent(
        7, name, T0 + timedelta(minutes=1), alert_id, {"alert_id": str(alert_id), **data}
    )


@pytest.mark.parametrize("audience", [TRANSIT, POLICE], ids=["transit_staff", "integrator"])
def test_a_duress_cancel_reaches_pseudonymous_audiences_as_do_not_call_back(
    audience: Audience,
) -> None:
    event = _event("alert.duress_signalled", {})
    assert message_for(audience, event, FACTS) == (
        "alert.do_not_call_back",
        {"alert_id": event.data["alert_id"], "do_not_call_back": True},
    )
    for staff in (COUNSELOR, SUPERVISOR):  # UPTD PPA staff: as it is
        assert message_for(staff, event, FACTS) == ("alert.duress_signalled", event.data)


@pytest.mark.parametrize("audience", [TRANSIT, POLICE], ids=["transit_staff", "integrator"])
def test_an_offer_for_the_companion_preference_withholds_its_reason(audience: Audience) -> None:
    event = _event(
        "assignment.offered",
        {"unit_code": KL, "leg_kind": "post", "reason": "companion_preference", "step": 0},
    )
    told = message_for(audience, event, FACTS)
    assert told is not None and told[1] == {**event.data, "reason": "withheld"}
    assert message_for(SUPERVISOR, event, FACTS) == ("assignment.offered", event.data)
    nearest = _event("assignment.offered", {"unit_code": KB, "reason": "nearest"})
    assert message_for(audience, nearest, FACTS) == ("assignment.offered", nearest.data)


async def test_transit_staff_and_integrators_learn_neither_companion_preference_nor_duress(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    """Kebayoran Baru (nearest) has no woman on duty, Kebayoran Lama has: the victim asked for a
    female companion, so routing offers Kebayoran Lama for it, and Transjakarta, where a woman is
    on duty too. Then the victim cancels under duress."""
    await on_duty(context, "konselor.kb", KB, sex="male")
    await on_duty(context, "konselor.kl", KL, sex="female")
    tj = await token_on_duty(client, context, "petugas.tj", "transit_staff", "transjakarta")
    await on_duty(context, "petugas.tj2", "transjakarta", role="transit_staff", sex="female")
    supervisor = await staff_token(client, context, "spv", "supervisor", "central")
    tj_system = await integrator_token(
        client, context, ["alerts:read"], data_scope="transit", unit_code="transjakarta"
    )
    _, credential = await register(client)
    pins = {"cancel_pin": "2468", "duress_pin": "1357"}
    assert (await client.put("/v1/devices/me/pins", json=pins, headers=auth(credential))).is_success
    async with live_server(context) as live, contextlib.AsyncExitStack() as stack:
        sockets = {
            who: await stack.enter_async_context(stream(live.base, token))
            for who, token in (
                ("transit", tj),
                ("integrator", tj_system),
                ("supervisor", supervisor),
            )
        }
        body = press_body(context, companion_preference="female")
        alert_id = (await press(client, credential, body)).json()["id"]
        clock.advance(1)
        await drain(context)
        by_unit = {g.unit_code: g for g in await legs(context, alert_id)}
        assert by_unit[KL].reason == "companion_preference", by_unit  # the scenario holds
        assert by_unit["transjakarta"].preferred_sex == "female"
        accepted = await client.post(
            f"/v1/assignments/{by_unit['transjakarta'].id}/accept", headers=auth(tj)
        )
        assert accepted.is_success and accepted.json()["preferred_sex"] is None
        cancel = await client.post(
            f"/v1/alerts/{alert_id}/cancel", json={"pin": "1357"}, headers=auth(credential)
        )
        assert cancel.status_code == 200, cancel.text
        await drain(context)
        await settled(context, live)
        seen = dict(
            zip(sockets, await asyncio.gather(*(ws.sent() for ws in sockets.values())), strict=True)
        )

    reads: dict[str, httpx.Response] = {}
    for path in ("", "/routing", "/timeline"):
        for who, token in (("transit", tj), ("supervisor", supervisor)):
            reads[who + path] = await client.get(
                f"/v1/alerts/{alert_id}{path}", headers=auth(token)
            )
    reads["transit/assignments"] = await client.get("/v1/assignments", headers=auth(tj))
    reads["integrator"] = await client.get(f"/v1/alerts/{alert_id}", headers=auth(tj_system))
    for label, answer in reads.items():
        assert answer.status_code == 200, (label, answer.text)
    # The supervisor sees all of it: the checks below look where it is.
    assert "companion_preference" in reads["supervisor/routing"].text
    assert '"preferred_sex":"female"' in reads["supervisor/routing"].text
    assert "alert.duress_signalled" in reads["supervisor/timeline"].text
    assert reads["supervisor"].json()["duress"] is True
    assert "alert.duress_signalled" in [m["event"] for m in seen["supervisor"]]

    for label, answer in reads.items():
        if not label.startswith("supervisor"):
            assert _profile_in(answer.text) == [], (label, answer.text)
    assert reads["transit"].json()["do_not_call_back"] is True
    timeline = [entry["event"] for entry in reads["transit/timeline"].json()]
    assert "alert.do_not_call_back" in timeline
    routing = reads["transit/routing"].json()
    (kl_leg,) = [g for d in routing["decisions"] for g in d["legs"] if g["unit_code"] == KL]
    assert kl_leg["reason"] == "withheld"
    for who in ("transit", "integrator"):
        messages = seen[who]
        assert _profile_in(repr(messages)) == [], (who, messages)
        assert "alert.do_not_call_back" in [m["event"] for m in messages], who


@pytest.mark.parametrize("audience", [TRANSIT, POLICE], ids=["transit_staff", "integrator"])
def test_a_link_to_a_duress_alert_is_withheld_from_pseudonymous_audiences(
    audience: Audience,
) -> None:
    """A new alert linked to an earlier one means that one was cancelled under duress and is
    still running: as telling as ``duress`` itself."""
    duress_alert = str(uuid.uuid4())
    event = _event("alert.received", {"case_code": "JKT-1", "linked_alert_id": duress_alert})
    told = message_for(audience, event, FACTS)
    assert told == ("alert.received", {**event.data, "linked_alert_id": None})
    for staff in (COUNSELOR, SUPERVISOR):  # UPTD PPA staff: as it is
        assert message_for(staff, event, FACTS) == ("alert.received", event.data)


SUPERVISOR_TEXT = "claim broken by supervisor: her ex-husband works at this halte"


@pytest.mark.parametrize("audience", [TRANSIT, POLICE], ids=["transit_staff", "integrator"])
def test_a_withdrawal_tells_pseudonymous_audiences_its_code_not_a_supervisors_text(
    audience: Audience,
) -> None:
    event = _event(
        "assignment.withdrawn",
        {"unit_code": "transjakarta", "reason": SUPERVISOR_TEXT, "reason_code": "claim_broken"},
    )
    told = message_for(audience, event, FACTS)
    assert told == (
        "assignment.withdrawn",
        {**event.data, "reason": "claim_broken"},
    )
    for staff in (COUNSELOR, SUPERVISOR):
        assert message_for(staff, event, FACTS) == ("assignment.withdrawn", event.data)
    # An event written before withdrawals carried a code: its text is withheld all the same.
    older = _event("assignment.withdrawn", {"unit_code": "transjakarta", "reason": SUPERVISOR_TEXT})
    told = message_for(audience, older, FACTS)
    assert told is not None and told[1]["reason"] == "withheld"
    assert "ex-husband" not in repr(told)


async def test_pseudonymous_audiences_are_not_told_a_new_alert_is_linked_to_a_duress_one(
    client: httpx.AsyncClient,
    context: AppContext,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The victim cancels under duress, then presses again: staff of UPTD PPA see the new alert
    linked to the one still running; transit staff and the operator's system see neither."""
    # A new alert, not a join of the cancelled one (docs/intake.md, "Floods").
    monkeypatch.setattr(context.settings.intake, "rejoin_window_s", 0)
    await on_duty(context, "konselor.kb", KB)
    tj = await token_on_duty(client, context, "petugas.tj", "transit_staff", "transjakarta")
    supervisor = await staff_token(client, context, "spv", "supervisor", "central")
    tj_system = await integrator_token(
        client, context, ["alerts:read"], data_scope="transit", unit_code="transjakarta"
    )
    _, credential = await register(client)
    pins = {"cancel_pin": "2468", "duress_pin": "1357"}
    assert (await client.put("/v1/devices/me/pins", json=pins, headers=auth(credential))).is_success
    first = (await press(client, credential, press_body(context))).json()["id"]
    await drain(context)
    cancel = await client.post(
        f"/v1/alerts/{first}/cancel", json={"pin": "1357"}, headers=auth(credential)
    )
    assert cancel.status_code == 200, cancel.text
    clock.advance(5)
    tokens = (("transit", tj), ("integrator", tj_system), ("supervisor", supervisor))
    async with live_server(context) as live, contextlib.AsyncExitStack() as stack:
        sockets = {
            who: await stack.enter_async_context(stream(live.base, token)) for who, token in tokens
        }
        second = (await press(client, credential, press_body(context))).json()["id"]
        assert second != first
        await drain(context)
        await settled(context, live)
        seen = dict(
            zip(sockets, await asyncio.gather(*(ws.sent() for ws in sockets.values())), strict=True)
        )
    reads = {
        who: await client.get(f"/v1/alerts/{second}", headers=auth(token)) for who, token in tokens
    }
    for who, answer in reads.items():
        assert answer.status_code == 200, (who, answer.text)
    assert reads["supervisor"].json()["linked_alert_id"] == first  # the scenario holds
    assert reads["transit"].json()["linked_alert_id"] is None
    assert reads["integrator"].json()["linked_alert_id"] is None
    timelines = {
        who: await client.get(f"/v1/alerts/{second}/timeline", headers=auth(token))
        for who, token in (("transit", tj), ("supervisor", supervisor))
    }
    received = {
        who: [e["data"] for e in answer.json() if e["event"] == "alert.received"]
        for who, answer in timelines.items()
    }
    assert [d["linked_alert_id"] for d in received["supervisor"]] == [first]
    assert received["transit"] and all(d["linked_alert_id"] is None for d in received["transit"])
    # A socket opened just after the first alert may still be sent that alert's own events (the
    # hub delivers what it had not yet read), which every audience here may see: what must not
    # leak is the link, so only what the sockets were told about the second alert counts.
    about_second = {
        who: [m for m in messages if m.get("data", {}).get("alert_id") == second]
        for who, messages in seen.items()
    }
    assert any(
        m["event"] == "alert.received" and m["data"]["linked_alert_id"] == first
        for m in about_second["supervisor"]
    )
    for who in ("transit", "integrator"):
        assert about_second[who], (who, seen[who])
        assert first not in repr(about_second[who]), (who, about_second[who])


async def test_a_broken_claim_reaches_transit_staff_and_their_system_without_the_supervisors_text(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await on_duty(context, "konselor.kb", KB)
    tj = await token_on_duty(client, context, "petugas.tj", "transit_staff", "transjakarta")
    supervisor = await staff_token(client, context, "spv", "supervisor", "central")
    tj_system = await integrator_token(
        client, context, ["alerts:read"], data_scope="transit", unit_code="transjakarta"
    )
    _, credential = await register(client)
    alert_id = (await press(client, credential, press_body(context))).json()["id"]
    await drain(context)
    leg = next(g for g in await legs(context, alert_id) if g.unit_code == "transjakarta")
    accepted = await client.post(f"/v1/assignments/{leg.id}/accept", headers=auth(tj))
    assert accepted.is_success, accepted.text
    clock.advance(1)
    tokens = (("transit", tj), ("integrator", tj_system), ("supervisor", supervisor))
    async with live_server(context) as live, contextlib.AsyncExitStack() as stack:
        sockets = {
            who: await stack.enter_async_context(stream(live.base, token)) for who, token in tokens
        }
        broken = await client.post(
            f"/v1/assignments/{leg.id}/break",
            json={"reason": "her ex-husband works at this halte"},
            headers=auth(supervisor),
        )
        assert broken.is_success, broken.text
        await drain(context)
        await settled(context, live)
        seen = dict(
            zip(sockets, await asyncio.gather(*(ws.sent() for ws in sockets.values())), strict=True)
        )

    def withdrawn(messages: list[dict[str, Any]]) -> list[Any]:
        return [m["data"]["reason"] for m in messages if m["event"] == "assignment.withdrawn"]

    assert any("ex-husband" in r for r in withdrawn(seen["supervisor"]))  # the scenario holds
    for who in ("transit", "integrator"):
        assert withdrawn(seen[who]) == ["claim_broken"], (who, seen[who])
        assert "ex-husband" not in repr(seen[who]), who
    timeline = await client.get(f"/v1/alerts/{alert_id}/timeline", headers=auth(tj))
    assert timeline.status_code == 200, timeline.text
    assert withdrawn(timeline.json()) == ["claim_broken"]


@pytest.mark.parametrize("audience", [TRANSIT, POLICE], ids=["transit_staff", "integrator"])
def test_a_decline_and_a_duress_resolution_tell_pseudonymous_audiences_no_more_than_the_fact(
    audience: Audience,
) -> None:
    declined = _event(
        "assignment.declined", {"unit_code": "transjakarta", "reason": "korban kenal petugas X"}
    )
    told = message_for(audience, declined, FACTS)
    assert told is not None and told[1]["reason"] == "withheld"
    resolved = _event("alert.resolved", {"disposition": "cancelled_under_duress"})
    told = message_for(audience, resolved, FACTS)
    assert told is not None and told[1]["disposition"] == "cancelled_by_victim"
    for staff in (COUNSELOR, SUPERVISOR):  # UPTD PPA staff: as it is
        assert message_for(staff, declined, FACTS) == ("assignment.declined", declined.data)
        assert message_for(staff, resolved, FACTS) == ("alert.resolved", resolved.data)


def test_a_legs_close_reason_and_a_reoffer_note_lose_staff_words_for_pseudonymous_readers() -> None:
    from app.policy.fields import FULL
    from app.policy.fields import TRANSIT as TRANSIT_FIELDS
    from app.policy.profile import close_reason, routing_explanation

    broken = "claim broken by supervisor: korban minta konselor perempuan"
    assert close_reason(TRANSIT_FIELDS, "withdrawn", broken) == "claim broken by supervisor"
    assert close_reason(TRANSIT_FIELDS, "declined", "korban kenal petugas") == "withheld"
    assert close_reason(TRANSIT_FIELDS, "expired", "not accepted in time") == "not accepted in time"
    assert close_reason(FULL, "withdrawn", broken) == broken
    decision = {"reoffer": {"unit_code": KB, "trigger": "reassigned", "note": "korban minta"}}
    assert routing_explanation(TRANSIT_FIELDS, decision)["reoffer"] == {
        "unit_code": KB, "trigger": "reassigned", "note": None,
    }
    assert routing_explanation(FULL, decision) == decision

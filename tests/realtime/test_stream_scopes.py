"""Need-to-know on the stream: every audience against one alert's whole life, and a phone that
cannot tell a duress cancel from a genuine one."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.clock import FrozenClock
from app.context import AppContext
from app.policy.integrators import ClientScope
from app.realtime.hub import Delivered, event_message, render
from app.realtime.scopes import (
    AlertFacts,
    Audience,
    LegSight,
    ScopeFacts,
    StreamEvent,
    message_for,
)
from tests.dispatch.staffing import drain, legs, on_duty, token_on_duty
from tests.helpers import (
    auth,
    integrator_token,
    press,
    press_body,
    register,
    staff_token,
    transfer_to_112,
)
from tests.realtime.live import Live, StreamClient, live_server, settled, stream

KB, KL = "3171060", "3171050"


async def collect(ws: StreamClient) -> list[dict[str, Any]]:
    """The events sent to ``ws`` so far: after ``settled``, every event it was to get."""
    return [m for m in await ws.sent() if m["type"] == "event"]


async def test_every_audience_sees_exactly_what_it_may(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    tokens = {
        "counselor_kb": await token_on_duty(client, context, "konselor.kb", "counselor", KB),
        "counselor_kl": await token_on_duty(client, context, "konselor.kl", "counselor", KL),
        "transit": await token_on_duty(
            client, context, "petugas.tj", "transit_staff", "transjakarta"
        ),
        "supervisor": await staff_token(client, context, "supervisor", "supervisor", "central"),
        # alerts:read without a data scope: no alert at all, like REST.
        "integrator_alerts": await integrator_token(client, context, ["alerts:read"]),
        "integrator_reference": await integrator_token(client, context, ["reference:read"]),
    }
    _, tokens["owner"] = await register(client)
    _, tokens["other_device"] = await register(client)
    async with live_server(context) as live, contextlib.AsyncExitStack() as stack:
        sockets = {
            name: await stack.enter_async_context(stream(live.base, token))
            for name, token in tokens.items()
        }
        body = press_body(context, contact={"name": "CANARY-NAME"}, message="CANARY-TEXT")
        alert_id = (await press(client, tokens["owner"], body)).json()["id"]
        clock.advance(1)  # routed a second after the press
        await drain(context)
        kb_leg = next(g for g in await legs(context, alert_id) if g.unit_code == KB)
        accepted = await client.post(
            f"/v1/assignments/{kb_leg.id}/accept", headers=auth(tokens["counselor_kb"])
        )
        assert accepted.status_code == 200
        await client.post(
            f"/v1/alerts/{alert_id}/progress",
            headers=auth(tokens["counselor_kb"]),
            json={"milestone": "contacted"},
        )
        await client.post(
            f"/v1/alerts/{alert_id}/resolve",
            headers=auth(tokens["counselor_kb"]),
            json={"disposition": "assisted"},
        )
        await drain(context)
        await settled(context, live)
        seen = dict(
            zip(
                sockets,
                await asyncio.gather(*(collect(ws) for ws in sockets.values())),
                strict=True,
            )
        )

    everything = [m["event"] for m in seen["supervisor"]]
    assert everything[:3] == ["alert.received", "alert.routed", "assignment.offered"]
    assert "assignment.accepted" in everything and everything[-1] == "alert.resolved"
    assert seen["integrator_alerts"] == []
    # The post sees the alert from the moment of its offer on: not its receipt a second earlier.
    assert [m["event"] for m in seen["counselor_kb"]] == everything[1:]
    assert seen["counselor_kl"] == []  # another post: nothing at all
    assert seen["integrator_reference"] == [] and seen["other_device"] == []
    transit = [m["event"] for m in seen["transit"]]
    assert transit and "assignment.accepted" in transit
    assert [(m["event"], m["data"]["status"]) for m in seen["owner"]] == [
        ("alert.received", "received"),
        ("alert.acknowledged", "acknowledged"),
        ("alert.resolved", "resolved"),
    ]
    for name, messages in seen.items():
        text = repr(messages)
        assert "CANARY" not in text, name
        assert not re.search(r"08\d{8}", text), name


async def device_stream_after_cancel(
    client: httpx.AsyncClient, context: AppContext, live: Live, pin: str
) -> list[dict[str, Any]]:
    _, credential = await register(client)
    pins = await client.put(
        "/v1/devices/me/pins",
        headers=auth(credential),
        json={"cancel_pin": "2468", "duress_pin": "1357"},
    )
    assert pins.status_code in (200, 204), pins.text
    async with stream(live.base, credential) as ws:
        alert_id = (await press(client, credential, press_body(context))).json()["id"]
        await drain(context)
        cancel = await client.post(
            f"/v1/alerts/{alert_id}/cancel", headers=auth(credential), json={"pin": pin}
        )
        assert cancel.status_code == 200
        await drain(context)
        # Staff keep working a duress alert; the phone must not hear of it.
        for leg in await legs(context, alert_id):
            if leg.status == "offered":
                token = await staff_token(
                    client, context, f"k{len(pin)}{pin}", "counselor", leg.unit_code
                )
                await client.post(f"/v1/assignments/{leg.id}/accept", headers=auth(token))
        await settled(context, live)
        messages = await collect(ws)
    return [
        {k: v for k, v in m.items() if k not in ("seq", "at")}
        | {"data": {**m["data"], "alert_id": "-"}}
        for m in messages
    ]


async def test_a_phone_cannot_tell_a_duress_cancel_from_a_genuine_one(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await on_duty(context, "konselor.kb", KB)
    async with live_server(context) as live:
        genuine = await device_stream_after_cancel(client, context, live, "2468")
        duress = await device_stream_after_cancel(client, context, live, "1357")
    assert genuine == duress
    assert [m["event"] for m in genuine] == ["alert.received", "alert.cancelled"]


def test_scopes_table_for_an_event_about_a_units_own_leg() -> None:
    """A unit learns its offer was withdrawn even though the withdrawn leg no longer lets it see
    the alert; another unit does not."""
    unit_a, unit_b = uuid.uuid4(), uuid.uuid4()
    event = StreamEvent(
        seq=7,
        event="assignment.withdrawn",
        at=datetime(2026, 11, 23, tzinfo=UTC),
        alert_id=uuid.uuid4(),
        data={"unit_code": "A", "reason": "accepted by B"},
    )
    facts = AlertFacts(device_id=uuid.uuid4(), device_closed_seq=None, legs=())
    own = Audience(kind="staff", role="counselor", unit_id=unit_a, unit_code="A")
    other = Audience(kind="staff", role="counselor", unit_id=unit_b, unit_code="B")
    assert message_for(own, event, facts) == ("assignment.withdrawn", event.data)
    assert message_for(other, event, facts) is None


@pytest.mark.parametrize(
    "event_type", ["alert.contacted", "alert.on_scene", "alert.handed_over", "alert.note_added"]
)
def test_an_actors_unit_code_is_no_leg_of_that_unit(event_type: str) -> None:
    """A supervisor of the central desk records progress on an alert the desk never had a leg
    on: the event's ``unit_code`` is the supervisor's unit, and the desk's counselor must not
    get it through the own-leg shortcut (only ``assignment.*`` events are about a leg)."""
    desk = Audience(kind="staff", role="counselor", unit_id=uuid.uuid4(), unit_code="central")
    at = datetime(2026, 11, 23, 3, 5, tzinfo=UTC)
    holder = LegSight(uuid.uuid4(), at - timedelta(minutes=5), None, "accepted")
    facts = AlertFacts(device_id=uuid.uuid4(), device_closed_seq=None, legs=(holder,))
    data = {"staff_id": str(uuid.uuid4()), "unit_code": "central"}
    event = StreamEvent(seq=8, event=event_type, at=at, alert_id=uuid.uuid4(), data=data)
    assert message_for(desk, event, facts) is None
    # An offer to the desk's own leg still reaches it, with or without sight.
    offered = replace(event, event="assignment.offered")
    assert message_for(desk, offered, facts) == ("assignment.offered", data)


def test_an_event_seen_whole_is_encoded_once_and_a_pseudonymous_view_on_its_own() -> None:
    """A room of supervisors shares one encoding of each event (the hub's fan-out cost); what
    a pseudonymous audience is sent is still its own, and every text says the same as a fresh
    encoding would."""
    at = datetime(2026, 11, 23, 3, 5, tzinfo=UTC)
    unit = uuid.uuid4()
    data = {"unit_code": "T", "reason": "companion_preference", "case_code": "JKT-1"}
    event = StreamEvent(seq=9, event="assignment.offered", at=at, alert_id=uuid.uuid4(), data=data)
    leg = LegSight(unit, at - timedelta(minutes=1), None, "offered")
    delivered = Delivered(
        event, AlertFacts(device_id=uuid.uuid4(), device_closed_seq=None, legs=(leg,))
    )
    first = render(Audience(kind="staff", role="supervisor", unit_id=uuid.uuid4()), delivered)
    second = render(Audience(kind="staff", role="admin", unit_id=uuid.uuid4()), delivered)
    assert first is second
    assert first == event_message(9, "assignment.offered", "2026-11-23T03:05:00Z", data)
    transit = Audience(kind="staff", role="transit_staff", unit_id=unit, unit_code="T")
    name, shown = message_for(transit, event, delivered.facts) or ("", {})
    told = render(transit, delivered)
    assert told is not first and told is not None
    assert told == event_message(9, name, "2026-11-23T03:05:00Z", shown)
    assert "withheld" in told and "companion_preference" not in told


INTEGRATORS = {
    "transit_tj": {"data_scope": "transit", "unit_code": "transjakarta"},
    "transit_mrt": {"data_scope": "transit", "unit_code": "mrt"},
    "police": {"data_scope": "police"},
    "siaga_112": {"data_scope": "112"},
    "no_data_scope": {},
}


async def test_integrators_get_an_alerts_events_from_when_it_entered_their_data_scope(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    """Transjakarta's system follows the alert from its offer; MRT's, and a client without a
    data scope, get nothing; police from the hand-over to police, 112 from the transfer; a drill
    handed over to police stays inside Sigap. A replay from before the alert shows each client
    exactly what live delivery did."""
    counselor = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    menteng = await token_on_duty(client, context, "konselor.mt", "counselor", "3173020")
    await on_duty(context, "petugas.tj", "transjakarta", role="transit_staff")
    supervisor = await staff_token(client, context, "supervisor", "supervisor", "central")
    tokens = {
        name: await integrator_token(client, context, ["alerts:read"], **scope)
        for name, scope in INTEGRATORS.items()
    }
    _, owner = await register(client)
    async with live_server(context) as live, contextlib.AsyncExitStack() as stack:
        sockets = {
            name: await stack.enter_async_context(stream(live.base, token))
            for name, token in tokens.items()
        }
        start = sockets["police"].ready["head_seq"]
        alert_id = (await press(client, owner, press_body(context))).json()["id"]
        clock.advance(1)  # routed a second after the press
        await drain(context)
        kb_leg = next(g for g in await legs(context, alert_id) if g.unit_code == KB)
        assert any(g.unit_code == "transjakarta" for g in await legs(context, alert_id))
        work = auth(counselor)
        assert (await client.post(f"/v1/assignments/{kb_leg.id}/accept", headers=work)).is_success
        clock.advance(10)
        progress = f"/v1/alerts/{alert_id}/progress"
        assert (
            await client.post(progress, headers=work, json={"milestone": "contacted"})
        ).is_success
        clock.advance(10)
        handed = {"milestone": "handed_over", "handed_over_to": "police"}
        assert (await client.post(progress, headers=work, json=handed)).is_success
        clock.advance(5)
        assert (
            await client.post(progress, headers=work, json={"milestone": "on_scene"})
        ).is_success
        clock.advance(5)
        await transfer_to_112(context, alert_id)
        clock.advance(5)
        resolved = await client.post(
            f"/v1/alerts/{alert_id}/resolve", headers=work, json={"disposition": "assisted"}
        )
        assert resolved.is_success, resolved.text
        # A drill, handed over to police too: drills never leave Sigap.
        drill = await client.post(
            "/v1/drills", json={"unit_code": "3173020"}, headers=auth(supervisor)
        )
        assert drill.status_code == 201, drill.text
        drill_id = drill.json()["alert_id"]
        await drain(context)
        drill_leg = next(g for g in await legs(context, drill_id) if g.unit_code == "3173020")
        took = await client.post(f"/v1/assignments/{drill_leg.id}/accept", headers=auth(menteng))
        assert took.is_success, took.text
        drill_progress = f"/v1/alerts/{drill_id}/progress"
        assert (await client.post(drill_progress, headers=auth(menteng), json=handed)).is_success
        await drain(context)
        await settled(context, live)
        live_seen = dict(
            zip(
                sockets,
                await asyncio.gather(*(ws.sent() for ws in sockets.values())),
                strict=True,
            )
        )
        replayed: dict[str, list[dict[str, Any]]] = {}
        for name, token in tokens.items():
            async with stream(live.base, token, after=start, epoch=live.hub.epoch) as ws:
                count = len(live_seen[name])
                replayed[name] = (await ws.events(count) if count else []) + [
                    m for m in await ws.quiet(0.2) if m["type"] == "event"
                ]

    for name in tokens:
        assert replayed[name] == live_seen[name], name
        assert all(m["data"]["alert_id"] == alert_id for m in live_seen[name]), name
    names = {name: [m["event"] for m in live_seen[name]] for name in tokens}
    assert names["transit_mrt"] == [] and names["no_data_scope"] == []
    # Transjakarta was offered the alert a second after the press: from then on, not before.
    assert names["transit_tj"][0] == "alert.routed" and "alert.received" not in names["transit_tj"]
    assert "alert.contacted" in names["transit_tj"] and names["transit_tj"][-1] == "alert.resolved"
    assert names["police"] == [
        "alert.handed_over",
        "alert.on_scene",
        "alert.transferred",
        "alert.resolved",
    ]
    assert names["siaga_112"] == ["alert.transferred", "alert.resolved"]


T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
HANDED_OVER = ScopeFacts(handed_over_to="police", handed_over_at=T0 + timedelta(minutes=1))
TRANSFERRED = ScopeFacts(transferred_at=T0 + timedelta(minutes=1))
TJ_DESK = uuid.uuid4()
OFFERED_TJ = ScopeFacts(
    transit_legs=(("transjakarta", LegSight(TJ_DESK, T0 + timedelta(minutes=1), None, "offered")),)
)
DECLINED_TJ = ScopeFacts(
    transit_legs=(
        (
            "transjakarta",
            LegSight(TJ_DESK, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2), "declined"),
        ),
    )
)
READ = frozenset({"alerts:read"})


def integrator(
    data_scope: str, unit_code: str | None = None, scopes: frozenset[str] = READ
) -> Audience:
    return Audience(
        kind="integrator", scopes=scopes, client_scope=ClientScope(data_scope, unit_code)
    )


@pytest.mark.parametrize(
    ("audience", "event_type", "minute", "scope", "shown"),
    [
        (integrator("police"), "alert.contacted", 0, HANDED_OVER, False),  # before the hand-over
        (integrator("police"), "alert.handed_over", 1, HANDED_OVER, True),
        (integrator("police"), "alert.resolved", 5, HANDED_OVER, True),
        (integrator("police"), "alert.resolved", 5, TRANSFERRED, False),
        (integrator("112"), "alert.received", 0, TRANSFERRED, False),
        (integrator("112"), "alert.transferred", 1, TRANSFERRED, True),
        (integrator("112"), "alert.resolved", 5, HANDED_OVER, False),
        (integrator("transit", "transjakarta"), "alert.received", 0, OFFERED_TJ, False),
        (integrator("transit", "transjakarta"), "assignment.offered", 1, OFFERED_TJ, True),
        (integrator("transit", "mrt"), "assignment.offered", 1, OFFERED_TJ, False),
        # Its last leg declined: up to the decline, and nothing after, as for its staff.
        (integrator("transit", "transjakarta"), "assignment.declined", 2, DECLINED_TJ, True),
        (integrator("transit", "transjakarta"), "alert.location_updated", 3, DECLINED_TJ, False),
        (integrator("transit", "transjakarta"), "alert.resolved", 5, DECLINED_TJ, False),
        (integrator("transit", "mrt"), "alert.resolved", 5, OFFERED_TJ, False),
        (integrator("none"), "alert.resolved", 5, HANDED_OVER, False),
        # The scope says which alerts; alerts:read says whether any events at all.
        (
            integrator("112", scopes=frozenset({"exports:read"})),
            "alert.resolved",
            5,
            TRANSFERRED,
            False,
        ),
        # Never the case file, even of an alert in scope.
        (integrator("police"), "case.opened", 5, HANDED_OVER, False),
        # Drills never leave Sigap.
        (integrator("police"), "alert.resolved", 5, replace(HANDED_OVER, is_drill=True), False),
        (integrator("112"), "alert.resolved", 5, replace(TRANSFERRED, is_drill=True), False),
        (
            integrator("transit", "transjakarta"),
            "alert.resolved",
            5,
            replace(OFFERED_TJ, is_drill=True),
            False,
        ),
    ],
)
def test_which_alert_events_an_integrator_receives(
    audience: Audience, event_type: str, minute: int, scope: ScopeFacts, shown: bool
) -> None:
    event = StreamEvent(
        seq=9,
        event=event_type,
        at=T0 + timedelta(minutes=minute),
        alert_id=uuid.uuid4(),
        data={"unit_code": "transjakarta"},
    )
    facts = AlertFacts(device_id=uuid.uuid4(), device_closed_seq=None, scope=scope)
    assert (message_for(audience, event, facts) is not None) is shown
    # Without the facts of its alert (an event of no alert, or an alert gone), nothing.
    assert message_for(audience, event, None) is None

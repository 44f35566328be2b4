"""Need-to-know on the stream: every audience against one alert's whole life, and a phone that
cannot tell a duress cancel from a genuine one."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import httpx

from app.clock import FrozenClock
from app.context import AppContext
from app.realtime.scopes import AlertFacts, Audience, StreamEvent, message_for
from tests.dispatch.staffing import drain, legs, on_duty, token_on_duty
from tests.helpers import auth, integrator_token, press, press_body, register, staff_token
from tests.realtime.live import StreamClient, live_server, stream

KB, KL = "3171060", "3171050"


async def collect(ws: StreamClient, seconds: float = 0.5) -> list[dict[str, Any]]:
    return [m for m in await ws.quiet(seconds) if m["type"] == "event"]


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
    assert [m["event"] for m in seen["integrator_alerts"]] == everything
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
    client: httpx.AsyncClient, context: AppContext, live_base: str, pin: str
) -> list[dict[str, Any]]:
    _, credential = await register(client)
    pins = await client.put(
        "/v1/devices/me/pins",
        headers=auth(credential),
        json={"cancel_pin": "2468", "duress_pin": "1357"},
    )
    assert pins.status_code in (200, 204), pins.text
    async with stream(live_base, credential) as ws:
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
        genuine = await device_stream_after_cancel(client, context, live.base, "2468")
        duress = await device_stream_after_cancel(client, context, live.base, "1357")
    assert genuine == duress
    assert [m["event"] for m in genuine] == ["alert.received", "alert.cancelled"]


def test_scopes_table_for_an_event_about_a_units_own_leg() -> None:
    """A unit learns its offer was withdrawn even though the withdrawn leg no longer lets it see
    the alert; another unit does not."""
    import uuid
    from datetime import UTC, datetime

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

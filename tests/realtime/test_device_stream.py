"""A phone's stream counts only its own events: 1, 2, 3, ... with its own head, resumed on that
numbering, and the same for a duress cancel as for a genuine one (PRODUCT.md section 6)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import delete

from app.context import AppContext
from app.models import OutboxEvent
from tests.dispatch.staffing import drain, legs, on_duty
from tests.helpers import auth, press, press_body, register, staff_token
from tests.realtime.live import Live, StreamClient, live_server, settled, stream

KB = "3171060"


async def events_so_far(ws: StreamClient) -> list[dict[str, Any]]:
    return [m for m in await ws.sent() if m["type"] == "event"]


async def replayed(ws: StreamClient, count: int) -> list[dict[str, Any]]:
    """A resuming socket's replay (``count`` events), then proof that nothing more comes: the
    replay is read from the database while a ping may already be answered, so wait for it."""
    events = await ws.events(count, wait_s=10) if count else []
    return events + [m for m in await ws.quiet(0.3) if m["type"] != "pong"]


async def someone_else_presses(client: httpx.AsyncClient, context: AppContext) -> None:
    """Another phone's alert: events for the deployment, none for the phone under test."""
    _, other = await register(client)
    assert (await press(client, other, press_body(context))).status_code == 201
    await drain(context)


async def accept_every_offer(client: httpx.AsyncClient, context: AppContext, alert_id: str) -> None:
    for leg in await legs(context, alert_id):
        if leg.status == "offered":
            token = await staff_token(
                client, context, f"k.{leg.id.hex[:8]}", "counselor", leg.unit_code
            )
            accepted = await client.post(f"/v1/assignments/{leg.id}/accept", headers=auth(token))
            assert accepted.status_code == 200, accepted.text


async def test_a_phones_stream_is_numbered_1_to_n_while_other_alerts_go_on(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await on_duty(context, "konselor.kb", KB)
    _, credential = await register(client)
    async with live_server(context) as live:
        await someone_else_presses(client, context)
        async with stream(live.base, credential) as ws:
            assert ws.ready["head_seq"] == 0  # the deployment's events are not its own
            alert_id = (await press(client, credential, press_body(context))).json()["id"]
            await drain(context)
            await someone_else_presses(client, context)
            await accept_every_offer(client, context, alert_id)
            await someone_else_presses(client, context)
            resolved = await client.post(
                f"/v1/alerts/{alert_id}/resolve",
                headers=auth(await staff_token(client, context, "sup", "supervisor", "central")),
                json={"disposition": "assisted"},
            )
            assert resolved.status_code == 200, resolved.text
            await someone_else_presses(client, context)
            await settled(context, live)
            live_events = await events_so_far(ws)
        assert [m["seq"] for m in live_events] == list(range(1, len(live_events) + 1))
        assert [m["event"] for m in live_events] == [
            "alert.received",
            "alert.acknowledged",
            "alert.resolved",
        ]
        assert {m["data"]["alert_id"] for m in live_events} == {alert_id}
        head = len(live_events)

        # Reconnecting: its own head, whatever the deployment did meanwhile.
        await someone_else_presses(client, context)
        await settled(context, live)
        async with stream(live.base, credential) as ws:
            assert ws.ready["head_seq"] == head
        # Resuming on its own numbering: exactly what live delivery sent after the cursor.
        async with stream(live.base, credential, after=1, epoch=live.hub.epoch) as ws:
            assert ws.ready["head_seq"] == head
            assert await replayed(ws, head - 1) == live_events[1:]
        async with stream(live.base, credential, after=0, epoch=live.hub.epoch) as ws:
            assert await replayed(ws, head) == live_events
        async with stream(live.base, credential, after=head, epoch=live.hub.epoch) as ws:
            assert await replayed(ws, 0) == []
        # A cursor beyond its own head (e.g. one from the deployment-wide numbering): resync.
        async with stream(live.base, credential, after=head + 1, epoch=live.hub.epoch) as ws:
            assert ws.ready["head_seq"] == head
            assert await ws.receive() == {"type": "resync_required", "head_seq": head}


async def cancel_and_watch(
    client: httpx.AsyncClient, context: AppContext, live: Live, pin: str
) -> dict[str, Any]:
    """Everything the phone is sent around a cancel with ``pin`` while staff go on working the
    alert (a duress cancel's alert keeps running) and other alerts come and go."""
    _, credential = await register(client)
    pins = await client.put(
        "/v1/devices/me/pins",
        headers=auth(credential),
        json={"cancel_pin": "2468", "duress_pin": "1357"},
    )
    assert pins.status_code in (200, 204), pins.text
    async with stream(live.base, credential) as ws:
        first_ready = ws.ready
        alert_id = (await press(client, credential, press_body(context))).json()["id"]
        await drain(context)
        await someone_else_presses(client, context)
        cancel = await client.post(
            f"/v1/alerts/{alert_id}/cancel", headers=auth(credential), json={"pin": pin}
        )
        assert cancel.status_code == 200
        await drain(context)
        await accept_every_offer(client, context, alert_id)
        await someone_else_presses(client, context)
        await settled(context, live)
        seen = await events_so_far(ws)
    async with stream(live.base, credential, after=0, epoch=live.hub.epoch) as ws:
        again = await replayed(ws, len(seen))
        later_ready = ws.ready
    async with stream(live.base, credential, after=len(seen), epoch=live.hub.epoch) as ws:
        resumed = await replayed(ws, 0)

    def comparable(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Only the alert's id and the clock differ between two phones.
        return [m | {"at": "-", "data": m["data"] | {"alert_id": "-"}} for m in messages]

    return {
        "first_ready": first_ready | {"epoch": "-"},
        "live": comparable(seen),
        "replayed": comparable(again),
        "later_ready": later_ready | {"epoch": "-"},
        "resumed": resumed,
    }


async def test_a_duress_cancel_numbers_the_phones_stream_exactly_as_a_genuine_one(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await on_duty(context, "konselor.kb", KB)
    async with live_server(context) as live:
        genuine = await cancel_and_watch(client, context, live, "2468")
        duress = await cancel_and_watch(client, context, live, "1357")
    for field in genuine:
        assert genuine[field] == duress[field], field
    assert [(m["seq"], m["event"]) for m in genuine["live"]] == [
        (1, "alert.received"),
        (2, "alert.cancelled"),
    ]
    assert genuine["replayed"] == genuine["live"]
    assert genuine["later_ready"]["head_seq"] == 2 and genuine["resumed"] == []


async def test_purging_a_phones_old_events_leaves_its_head_where_it_was(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """Retention deletes a closed alert's events (a duress alert, still open for staff, keeps
    them longer): the phone's head must not move, or the two could be told apart."""
    await on_duty(context, "konselor.kb", KB)
    _, credential = await register(client)
    alert_id = (await press(client, credential, press_body(context))).json()["id"]
    await drain(context)
    async with live_server(context) as live:
        await settled(context, live)
        async with stream(live.base, credential) as ws:
            head = ws.ready["head_seq"]
        assert head == 1  # alert.received
        async with context.sessions() as session:
            await session.execute(
                delete(OutboxEvent).where(OutboxEvent.alert_id == uuid.UUID(alert_id))
            )
            await session.commit()
        async with stream(live.base, credential) as ws:
            assert ws.ready["head_seq"] == head
        # Its missed events are gone: told to resync, on its own numbering.
        async with stream(live.base, credential, after=0, epoch=live.hub.epoch) as ws:
            assert await ws.receive() == {"type": "resync_required", "head_seq": head}
        await someone_else_presses(client, context)
        await accept_every_offer(client, context, alert_id)
        await settled(context, live)
        async with stream(live.base, credential) as ws:
            assert ws.ready["head_seq"] == head + 1  # numbering goes on from the kept head

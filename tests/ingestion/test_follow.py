"""Location updates and cancelling: ordering, de-duplication, PINs and the duress PIN."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select

from app.clock import FrozenClock
from app.context import AppContext
from app.models import Alert, AlertLocation, OutboxEvent
from tests.helpers import auth, press, press_body, register


async def set_pins(
    client: httpx.AsyncClient, credential: str, cancel: str = "2468", duress: str | None = "1357"
) -> None:
    body = {"cancel_pin": cancel} | ({"duress_pin": duress} if duress else {})
    response = await client.put("/v1/devices/me/pins", json=body, headers=auth(credential))
    assert response.status_code == 204, response.text


def point(
    clock: FrozenClock, seconds_ago: float, lat: float = -6.2436, lon: float = 106.8013
) -> dict[str, object]:
    return {
        "lat": lat,
        "lon": lon,
        "accuracy_m": 10,
        "fix_at": (clock.now() - timedelta(seconds=seconds_ago)).isoformat(),
        "source": "gps",
    }


async def test_locations_are_ordered_by_fix_time_and_never_go_back(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    _, credential = await register(client)
    alert_id = (await press(client, credential, press_body(context))).json()["id"]
    clock.advance(60)
    newer = point(clock, 5, lat=-6.2300)
    older = point(clock, 30, lat=-6.2400)
    response = await client.post(
        f"/v1/alerts/{alert_id}/locations",
        json={"points": [newer, older]},
        headers=auth(credential),
    )
    assert response.status_code == 200
    assert response.json()["accepted"] == 2
    late = await client.post(
        f"/v1/alerts/{alert_id}/locations",
        json={"points": [point(clock, 40, lat=-6.25)]},
        headers=auth(credential),
    )
    assert late.json()["accepted"] == 1
    duplicate = await client.post(
        f"/v1/alerts/{alert_id}/locations", json={"points": [newer]}, headers=auth(credential)
    )
    assert duplicate.json() == {
        "accepted": 0,
        "duplicates": 1,
        "stale": 0,
        "latest_fix_at": duplicate.json()["latest_fix_at"],
    }

    async with context.sessions() as session:
        alert = await session.get(Alert, uuid.UUID(alert_id))
        assert alert is not None and alert.last_lat == -6.2300
        assert (
            await session.scalar(select(AlertLocation.id).where(AlertLocation.lat == -6.25))
            is not None
        )
        events = (await session.scalars(select(OutboxEvent.event_type))).all()
        assert events.count("alert.location_updated") == 1


async def test_location_route_refuses_bad_input_and_changes_nothing(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    _, credential = await register(client)
    alert_id = (await press(client, credential, press_body(context, location=None))).json()["id"]
    naive = point(clock, 1) | {"fix_at": "2026-11-23T10:00:00"}
    cases = [
        {"points": [point(clock, 1) | {"altitude": 3}]},
        {"points": [naive]},
        {"points": [point(clock, 1) | {"lat": 91}]},
        {"points": []},
        {"point": point(clock, 1)},
    ]
    for body in cases:
        response = await client.post(
            f"/v1/alerts/{alert_id}/locations", json=body, headers=auth(credential)
        )
        assert response.status_code == 422, body
        assert response.json()["type"] == "/problems/validation-error"
    as_text = await client.post(
        f"/v1/alerts/{alert_id}/locations",
        content=b"{}",
        headers={**auth(credential), "Content-Type": "text/plain"},
    )
    assert as_text.status_code == 415
    async with context.sessions() as session:
        assert (await session.scalars(select(AlertLocation))).all() == []


async def test_another_devices_alert_does_not_exist(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    _, owner = await register(client)
    _, stranger = await register(client)
    alert_id = (await press(client, owner, press_body(context))).json()["id"]
    for method, path, body in (
        ("GET", f"/v1/alerts/{alert_id}", None),
        ("POST", f"/v1/alerts/{alert_id}/locations", {"points": [point(clock, 1)]}),
        ("POST", f"/v1/alerts/{alert_id}/cancel", {}),
    ):
        response = await client.request(method, path, json=body, headers=auth(stranger))
        assert response.status_code == 404, path
        assert response.json()["type"] == "/problems/not-found"


async def test_wrong_pin_changes_nothing_and_too_many_pause_cancelling(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    _, credential = await register(client)
    await set_pins(client, credential)
    alert_id = (await press(client, credential, press_body(context))).json()["id"]
    for attempt in range(5):
        response = await client.post(
            f"/v1/alerts/{alert_id}/cancel", json={"pin": "0000"}, headers=auth(credential)
        )
        assert response.status_code == 403, attempt
        assert response.json()["type"] == "/problems/pin-incorrect"
    locked = await client.post(
        f"/v1/alerts/{alert_id}/cancel", json={"pin": "2468"}, headers=auth(credential)
    )
    assert locked.status_code == 429
    assert locked.json()["type"] == "/problems/pin-locked"
    assert int(locked.headers["retry-after"]) > 800
    view = await client.get(f"/v1/alerts/{alert_id}", headers=auth(credential))
    assert view.json()["status"] == "received"
    async with context.sessions() as session:
        events = (await session.scalars(select(OutboxEvent.event_type))).all()
        assert "alert.cancel_paused" in events  # staff see the lockout

    clock.advance(15 * 60 + 1)
    ok = await client.post(
        f"/v1/alerts/{alert_id}/cancel", json={"pin": "2468"}, headers=auth(credential)
    )
    assert ok.status_code == 200 and ok.json()["status"] == "cancelled"


async def test_duress_cancel_looks_exactly_like_a_genuine_one_to_the_phone(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    seen: dict[str, list[bytes]] = {}
    ids: dict[str, str] = {}
    for pin in ("2468", "1357"):  # genuine, then duress, on two devices with identical histories
        _, credential = await register(client)
        await set_pins(client, credential)
        created = await press(client, credential, press_body(context))
        alert_id = created.json()["id"]
        ids[pin] = alert_id
        cancel = await client.post(
            f"/v1/alerts/{alert_id}/cancel", json={"pin": pin}, headers=auth(credential)
        )
        again = await client.post(
            f"/v1/alerts/{alert_id}/cancel", json={"pin": pin}, headers=auth(credential)
        )
        read = await client.get(f"/v1/alerts/{alert_id}", headers=auth(credential))
        later = await client.post(
            f"/v1/alerts/{alert_id}/locations",
            json={"points": [point(clock, 0)]},
            headers=auth(credential),
        )
        new_press = await press(client, credential, press_body(context))
        new_view = new_press.json()
        seen[pin] = [
            _normalise(
                r.content,
                {
                    alert_id: "ALERT",
                    created.json()["case_code"]: "CODE",
                    new_view["id"]: "NEW",
                    new_view["case_code"]: "NEWCODE",
                },
            )
            for r in (cancel, again, read, later, new_press)
        ] + [
            str(
                (
                    cancel.status_code,
                    again.status_code,
                    read.status_code,
                    later.status_code,
                    new_press.status_code,
                )
            ).encode()
        ]
    assert seen["2468"] == seen["1357"]

    async with context.sessions() as session:
        genuine = await session.get(Alert, uuid.UUID(ids["2468"]))
        duress = await session.get(Alert, uuid.UUID(ids["1357"]))
        assert genuine is not None and duress is not None
        # The later press, right after the cancel, reopened the alert on both (the join
        # rule, docs/intake.md); a press after the window opens a linked one
        # (tests/ingestion/test_flood.py).
        assert genuine.state == "received" and not genuine.duress and genuine.reopen_count == 1
        assert duress.state == "received" and duress.duress and duress.do_not_call_back
        assert duress.reopen_count == 1
        events = (
            await session.scalars(
                select(OutboxEvent.event_type).where(OutboxEvent.alert_id == duress.id)
            )
        ).all()
        assert "alert.duress_signalled" in events and "alert.cancelled" not in events


def _normalise(content: bytes, replacements: dict[str, str]) -> bytes:
    text = content.decode()
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text.encode()


async def test_pins_must_differ_and_changing_them_needs_the_current_pin(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    same = await client.put(
        "/v1/devices/me/pins",
        json={"cancel_pin": "1111", "duress_pin": "1111"},
        headers=auth(credential),
    )
    assert same.status_code == 422 and same.json()["type"] == "/problems/pin-rules"
    await set_pins(client, credential)
    without_current = await client.put(
        "/v1/devices/me/pins", json={"cancel_pin": "9999"}, headers=auth(credential)
    )
    assert without_current.status_code == 422
    wrong_current = await client.put(
        "/v1/devices/me/pins",
        json={"cancel_pin": "9999", "current_pin": "1357"},
        headers=auth(credential),
    )
    assert wrong_current.status_code == 403
    short = await client.put(
        "/v1/devices/me/pins",
        json={"cancel_pin": "12", "current_pin": "2468"},
        headers=auth(credential),
    )
    assert short.status_code == 422
    ok = await client.put(
        "/v1/devices/me/pins",
        json={"cancel_pin": "9999", "current_pin": "2468"},
        headers=auth(credential),
    )
    assert ok.status_code == 204
    me = await client.get("/v1/devices/me", headers=auth(credential))
    assert me.json()["cancel_pin_set"] is True
    assert "duress" not in me.text  # whoever holds the phone must not learn a duress PIN exists


async def test_cancel_without_pin_configured_and_cancelling_twice(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    alert_id = (await press(client, credential, press_body(context))).json()["id"]
    first = await client.post(f"/v1/alerts/{alert_id}/cancel", json={}, headers=auth(credential))
    second = await client.post(f"/v1/alerts/{alert_id}/cancel", json={}, headers=auth(credential))
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    async with context.sessions() as session:
        events = (await session.scalars(select(OutboxEvent.event_type))).all()
        assert events.count("alert.cancelled") == 1

"""Edges found in review: no false 112 hand-off when only a transit leg is added, a genuine
cancel always succeeds, stale clocks close, tampered cursors and back-dated milestones are 422."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import httpx

from app.clock import FrozenClock
from app.context import AppContext
from app.sla.monitor import run_cycle
from tests.dispatch.staffing import drain, event_names, legs, on_duty, post, token_on_duty
from tests.helpers import BLOK_M, auth, press, press_body, register, staff_token
from tests.sla.test_monitor import clocks

KB = "3171060"
INSIDE_KEBAYORAN_BARU = {"lat": -6.2350, "lon": 106.7990}  # no station within 150 m


async def with_pins(client: httpx.AsyncClient) -> str:
    _, credential = await register(client)
    await client.put(
        "/v1/devices/me/pins",
        headers=auth(credential),
        json={"cancel_pin": "2468", "duress_pin": "1357"},
    )
    return credential


async def test_walking_into_a_station_adds_transit_without_a_false_112_hand_off(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await on_duty(context, "konselor.kb", KB)
    await on_duty(context, "petugas.tj", "transjakarta", role="transit_staff")
    _, credential = await register(client)
    body = press_body(context)
    body["location"] |= INSIDE_KEBAYORAN_BARU
    alert_id = (await press(client, credential, body)).json()["id"]
    await drain(context)
    assert [g.leg_kind for g in await legs(context, alert_id)] == ["post"]

    clock.advance(10)
    point = {**BLOK_M, "accuracy_m": 10, "fix_at": clock.now().isoformat()}
    moved = await client.post(
        f"/v1/alerts/{alert_id}/locations", headers=auth(credential), json={"points": [point]}
    )
    assert moved.status_code == 200
    await drain(context)
    found = {(g.unit_code, g.status) for g in await legs(context, alert_id)}
    assert found == {(KB, "offered"), ("transjakarta", "offered")}
    assert "alert.transferred" not in await event_names(context, alert_id)


async def test_a_genuine_cancel_succeeds_after_a_hand_over(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    credential = await with_pins(client)
    alert_id = (await press(client, credential, press_body(context))).json()["id"]
    await drain(context)
    offer = next(g for g in await legs(context, alert_id) if g.unit_code == KB)
    await post(client, f"/v1/assignments/{offer.id}/accept", token)
    handed = await post(
        client,
        f"/v1/alerts/{alert_id}/progress",
        token,
        {"milestone": "handed_over", "handed_over_to": "police"},
    )
    assert handed.json()["state"] == "handed_over"
    cancel = await client.post(
        f"/v1/alerts/{alert_id}/cancel", headers=auth(credential), json={"pin": "2468"}
    )
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["status"] == "cancelled"


async def test_a_duress_cancel_closes_the_first_contact_clock_instead_of_leaving_it_due(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    credential = await with_pins(client)
    alert_id = (await press(client, credential, press_body(context))).json()["id"]
    await drain(context)
    offer = next(g for g in await legs(context, alert_id) if g.unit_code == KB)
    await post(client, f"/v1/assignments/{offer.id}/accept", token)
    await run_cycle(context)
    assert (await clocks(context, alert_id))["first_contact"].status == "running"
    await client.post(
        f"/v1/alerts/{alert_id}/cancel", headers=auth(credential), json={"pin": "1357"}
    )
    clock.advance(400)
    await run_cycle(context)
    first_contact = (await clocks(context, alert_id))["first_contact"]
    assert (first_contact.status, first_contact.next_at) == ("closed", None)


async def test_a_tampered_cursor_is_a_422_not_a_500(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await staff_token(client, context, "supervisor", "supervisor", "central")
    for value in ("x", "2026-11-23T03:00:00|not-a-uuid", f"2026-11-23T03:00:00|{uuid.uuid4()}"):
        cursor = base64.urlsafe_b64encode(json.dumps({"v": value}).encode()).decode()
        for path in ("/v1/assignments", "/v1/alerts"):
            response = await client.get(path, headers=auth(token), params={"cursor": cursor})
            assert response.status_code == 422, (path, value, response.text)
            assert response.json()["type"] == "/problems/validation-error"


async def test_a_milestone_cannot_predate_the_victims_report(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    _, credential = await register(client)
    alert_id = (await press(client, credential, press_body(context))).json()["id"]
    await drain(context)
    offer = next(g for g in await legs(context, alert_id) if g.unit_code == KB)
    await post(client, f"/v1/assignments/{offer.id}/accept", token)
    case = await post(
        client,
        f"/v1/alerts/{alert_id}/case",
        token,
        {"violence_types": ["fisik"], "risk_level": "medium"},
    )
    early = (context.clock.now() - timedelta(hours=1)).isoformat()
    response = await post(
        client,
        f"/v1/cases/{case.json()['id']}/milestones",
        token,
        {"milestone": "police_reported", "occurred_at": early},
    )
    assert response.status_code == 422

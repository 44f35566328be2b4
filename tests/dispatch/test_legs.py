"""Legs work together (PRODUCT.md section 2, steps 3-5): a transit guard and a counselor on one
alert, each with their own offer, acceptance and duties; a supervisor's reopen."""

from __future__ import annotations

import httpx

from app.clock import FrozenClock
from app.context import AppContext
from tests.dispatch.staffing import drain, event_names, events, legs, on_duty, post, token_on_duty
from tests.helpers import auth, press, press_body, register, sign_in, staff_token
from tests.ingestion.test_flood import device_sees

KB, KL = "3171060", "3171050"


async def _blok_m(client: httpx.AsyncClient, context: AppContext) -> tuple[str, str]:
    _, credential = await register(client)
    alert_id = str((await press(client, credential, press_body(context))).json()["id"])
    await drain(context)
    return alert_id, credential


async def _signed_in_again(client: httpx.AsyncClient, username: str) -> str:
    """Access tokens last minutes: a test that moves the clock by hours signs in again."""
    return str((await sign_in(client, username))["access_token"])


async def _leg_id(context: AppContext, alert_id: str, kind: str) -> str:
    return next(str(g.id) for g in await legs(context, alert_id) if g.leg_kind == kind)


async def test_the_post_leg_stays_open_after_the_guard_accepts_and_moves_on_without_112(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    guard = await token_on_duty(client, context, "petugas.tj", "transit_staff", "transjakarta")
    counselor = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    await on_duty(context, "konselor.kl", KL)
    alert_id, _ = await _blok_m(client, context)
    accepted = await post(
        client, f"/v1/assignments/{await _leg_id(context, alert_id, 'transit')}/accept", guard
    )
    assert accepted.status_code == 200

    read = (await client.get(f"/v1/alerts/{alert_id}", headers=auth(counselor))).json()
    assert read["actions"]["accept"]["allowed"] is True  # the transit claim does not block it
    assert read["actions"]["accept"]["until"] is not None
    queue = (await client.get("/v1/assignments", headers=auth(counselor))).json()["items"]
    assert [row["actions"]["accept"]["allowed"] for row in queue] == [True]

    clock.advance(61)  # nobody at Kebayoran Baru answers: the follow-up moves on
    await drain(context)
    open_legs = {
        (g.unit_code, g.leg_kind) for g in await legs(context, alert_id) if g.status == "offered"
    }
    assert ("central", "central") in open_legs
    assert (KL, "post") in open_legs
    clock.advance(120)  # nobody takes the follow-up: the guard still holds it, so no 112
    await drain(context)
    assert {g.status for g in await legs(context, alert_id) if g.leg_kind != "transit"} == {
        "expired"
    }
    assert "alert.transferred" not in await event_names(context, alert_id)


async def test_the_guards_hand_over_is_taken_up_by_the_counselor_who_records_contact(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    guard = await token_on_duty(client, context, "petugas.tj", "transit_staff", "transjakarta")
    counselor = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    alert_id, _ = await _blok_m(client, context)
    await post(
        client, f"/v1/assignments/{await _leg_id(context, alert_id, 'transit')}/accept", guard
    )
    clock.advance(20)
    handed = await post(client, f"/v1/alerts/{alert_id}/hand-to-counselor", guard)
    assert handed.status_code == 200, handed.text
    assert handed.json()["state"] == "on_scene"  # she was there; the case's hand-over is not hers
    assert handed.json()["actions"]["hand_to_counselor"]["reason"] == "recorded"
    mine = (await client.get("/v1/assignments", headers=auth(guard))).json()["items"]
    assert mine == []  # her active queue is clear
    done = (await client.get("/v1/assignments?status=closed", headers=auth(guard))).json()
    assert [(r["status"], r["leg_kind"]) for r in done["items"]] == [("completed", "transit")]
    assert "assignment.taken_up" not in await event_names(context, alert_id)

    clock.advance(20)
    post_leg = await _leg_id(context, alert_id, "post")
    assert (await post(client, f"/v1/assignments/{post_leg}/accept", counselor)).status_code == 200
    taken = [e for e in await events(context, alert_id) if e.event_type == "assignment.taken_up"]
    assert [(e.payload["unit_code"], e.payload["by_unit_code"]) for e in taken] == [
        ("transjakarta", KB)
    ]
    contact = await post(
        client, f"/v1/alerts/{alert_id}/progress", counselor, {"milestone": "contacted"}
    )
    assert contact.status_code == 200, contact.text
    assert contact.json()["actions"]["contacted"]["reason"] == "recorded"
    # The guard still sees the alert, and that the counselor took over.
    timeline = await client.get(f"/v1/alerts/{alert_id}/timeline", headers=auth(guard))
    assert "assignment.taken_up" in [e["event"] for e in timeline.json()]


async def test_contact_and_the_cases_hand_over_are_the_uppa_legs_not_the_guards(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    guard = await token_on_duty(client, context, "petugas.tj", "transit_staff", "transjakarta")
    await on_duty(context, "konselor.kb", KB)
    alert_id, _ = await _blok_m(client, context)
    await post(
        client, f"/v1/assignments/{await _leg_id(context, alert_id, 'transit')}/accept", guard
    )
    refused = await post(
        client, f"/v1/alerts/{alert_id}/progress", guard, {"milestone": "contacted"}
    )
    assert refused.status_code == 403 and refused.json()["reason"] == "ppa_leg_only"
    on_scene = await post(
        client, f"/v1/alerts/{alert_id}/progress", guard, {"milestone": "on_scene"}
    )
    assert on_scene.status_code == 200


async def test_a_supervisor_reopens_a_resolved_alert_and_the_phone_sees_nothing_of_it(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    counselor = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    supervisor = await staff_token(client, context, "spv", "supervisor", "central")
    alert_id, credential = await _blok_m(client, context)
    await post(
        client, f"/v1/assignments/{await _leg_id(context, alert_id, 'post')}/accept", counselor
    )
    await post(client, f"/v1/alerts/{alert_id}/progress", counselor, {"milestone": "contacted"})
    await post(client, f"/v1/alerts/{alert_id}/resolve", counselor, {"disposition": "assisted"})
    device_before = (await client.get(f"/v1/alerts/{alert_id}", headers=auth(credential))).json()
    device_id = (await client.get("/v1/devices/me", headers=auth(credential))).json()["device_id"]
    stream_before = await device_sees(context, device_id)

    clock.advance(3600)
    supervisor = await _signed_in_again(client, "spv")
    reopened = await post(
        client, f"/v1/alerts/{alert_id}/reopen", supervisor, {"reason": "victim called back"}
    )
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["state"] == "contacted"
    assert reopened.json()["actions"]["reopen"]["reason"] == "not_resolved"
    assert [g.status for g in await legs(context, alert_id) if g.status == "offered"] == ["offered"]
    device_after = (await client.get(f"/v1/alerts/{alert_id}", headers=auth(credential))).json()
    assert device_after == device_before  # still "resolved" for whoever holds the phone
    assert await device_sees(context, device_id) == stream_before  # and its stream says nothing
    again = await press(client, credential, press_body(context))
    assert again.status_code == 201 and again.json()["id"] != alert_id  # never joins it


async def test_reopen_is_refused_after_its_window_with_the_reason_the_read_shows(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    counselor = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    supervisor = await staff_token(client, context, "spv", "supervisor", "central")
    alert_id, _ = await _blok_m(client, context)
    await post(
        client, f"/v1/assignments/{await _leg_id(context, alert_id, 'post')}/accept", counselor
    )
    await post(client, f"/v1/alerts/{alert_id}/resolve", counselor, {"disposition": "assisted"})
    read = (await client.get(f"/v1/alerts/{alert_id}", headers=auth(supervisor))).json()
    assert read["actions"]["reopen"]["allowed"] is True
    clock.advance(context.settings.dispatch.reopen_window_s + 1)
    supervisor = await _signed_in_again(client, "spv")
    counselor = await _signed_in_again(client, "konselor.kb")
    read = (await client.get(f"/v1/alerts/{alert_id}", headers=auth(supervisor))).json()
    assert read["actions"]["reopen"]["reason"] == "reopen_window_passed"
    late = await post(
        client, f"/v1/alerts/{alert_id}/reopen", supervisor, {"reason": "too late now"}
    )
    assert late.status_code == 409 and late.json()["reason"] == "reopen_window_passed"
    own = await post(client, f"/v1/alerts/{alert_id}/reopen", counselor, {"reason": "not mine to"})
    assert own.status_code == 403 and own.json()["reason"] == "role"

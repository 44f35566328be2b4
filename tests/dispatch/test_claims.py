"""Staff answering offers over HTTP: claims with leases, progress, resolution, notes, need-to-know,
supervisor tools, and notifications."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import select

from app.clock import FrozenClock
from app.context import AppContext
from app.models import Alert, Notification
from app.notify import RecordingProvider, deliver_notifications, queue
from tests.dispatch.staffing import drain, event_names, legs, on_duty, post, token_on_duty
from tests.helpers import auth, press, press_body, register, staff_token

KB, KL = "3171060", "3171050"


async def offered_alert(
    client: httpx.AsyncClient, context: AppContext, **fields: object
) -> tuple[str, str, str]:
    """A pressed and routed alert at Blok M; returns (alert id, device credential, KB offer id)."""
    _, credential = await register(client)
    response = await press(client, credential, press_body(context, **fields))
    alert_id = str(response.json()["id"])
    await drain(context)
    offer = next(g for g in await legs(context, alert_id) if g.unit_code == KB)
    return alert_id, credential, str(offer.id)


async def test_two_counselors_accept_at_once_and_exactly_one_wins(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    first = await token_on_duty(client, context, "konselor.a", "counselor", KB)
    second = await token_on_duty(client, context, "konselor.b", "counselor", KB)
    alert_id, _, offer = await offered_alert(client, context)

    answers = await asyncio.gather(
        post(client, f"/v1/assignments/{offer}/accept", first),
        post(client, f"/v1/assignments/{offer}/accept", second),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    loser = next(a for a in answers if a.status_code == 409)
    assert loser.json()["type"] == "/problems/claim-held"
    assert loser.json()["holder"]["username"] in ("konselor.a", "konselor.b")
    assert loser.json()["holder"]["unit_code"] == KB
    names = await event_names(context, alert_id)
    assert names.count("assignment.accepted") == 1
    async with context.sessions() as session:
        alert = await session.get(Alert, uuid.UUID(alert_id))
        assert alert is not None
        assert alert.state == "acknowledged"
        assert alert.acknowledged_at == context.clock.now()


async def test_first_acceptance_of_uncertain_offers_withdraws_the_others(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    kb = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    kl = await token_on_duty(client, context, "konselor.kl", "counselor", KL)
    _, credential = await register(client)
    body = press_body(context)
    body["location"]["accuracy_m"] = 1500  # a circle spanning both posts' catchments
    alert_id = str((await press(client, credential, body)).json()["id"])
    await drain(context)
    offers = {g.unit_code: str(g.id) for g in await legs(context, alert_id)}
    assert set(offers) >= {KB, KL}

    assert (await post(client, f"/v1/assignments/{offers[KL]}/accept", kl)).status_code == 200
    late = await post(client, f"/v1/assignments/{offers[KB]}/accept", kb)
    assert late.status_code == 409
    assert late.json()["holder"]["unit_code"] == KL
    statuses = {g.unit_code: g.status for g in await legs(context, alert_id)}
    assert statuses[KL] == "accepted" and statuses[KB] == "withdrawn"


async def test_a_quiet_claim_lapses_and_is_re_offered_but_a_heartbeat_keeps_it(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    alert_id, _, offer = await offered_alert(client, context)
    assert (await post(client, f"/v1/assignments/{offer}/accept", token)).status_code == 200

    clock.advance(9 * 60)
    beat = await post(client, f"/v1/assignments/{offer}/heartbeat", token)
    assert beat.status_code == 200
    clock.advance(9 * 60)  # 18 minutes after accepting, 9 after the heartbeat
    await drain(context)
    assert [g.status for g in await legs(context, alert_id) if g.unit_code == KB] == ["accepted"]

    clock.advance(60)  # 10 minutes of silence
    await drain(context)
    kb_legs = [(g.step, g.status) for g in await legs(context, alert_id) if g.unit_code == KB]
    assert kb_legs == [(0, "lapsed"), (1, "offered")]
    names = await event_names(context, alert_id)
    assert names.count("assignment.expired") == 1


async def test_progress_then_resolve_stamps_server_times_once(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    alert_id, credential, offer = await offered_alert(client, context)

    early = await post(client, f"/v1/alerts/{alert_id}/progress", token, {"milestone": "contacted"})
    assert early.status_code == 403  # accept first

    await post(client, f"/v1/assignments/{offer}/accept", token)
    clock.advance(30)
    contacted = await post(
        client, f"/v1/alerts/{alert_id}/progress", token, {"milestone": "contacted"}
    )
    assert contacted.status_code == 200, contacted.text
    assert contacted.json()["state"] == "contacted"
    clock.advance(30)
    again = await post(client, f"/v1/alerts/{alert_id}/progress", token, {"milestone": "contacted"})
    assert again.status_code == 200
    bad = await post(
        client,
        f"/v1/alerts/{alert_id}/progress",
        token,
        {"milestone": "contacted", "handed_over_to": "police"},
    )
    assert bad.status_code == 422
    handed = await post(
        client,
        f"/v1/alerts/{alert_id}/progress",
        token,
        {"milestone": "handed_over", "handed_over_to": "police"},
    )
    assert handed.json()["state"] == "handed_over"
    resolved = await post(
        client, f"/v1/alerts/{alert_id}/resolve", token, {"disposition": "referred_police"}
    )
    assert resolved.status_code == 200, resolved.text
    after = await post(client, f"/v1/alerts/{alert_id}/progress", token, {"milestone": "on_scene"})
    assert after.status_code == 409 and after.json()["type"] == "/problems/alert-closed"

    async with context.sessions() as session:
        alert = await session.get(Alert, uuid.UUID(alert_id))
        assert alert is not None
    start = alert.received_at
    assert (alert.contacted_at - start).total_seconds() == 30  # the first time, not the repeat
    assert (alert.handed_over_at - start).total_seconds() == 60
    assert alert.disposition == "referred_police" and alert.handed_over_to == "police"
    names = await event_names(context, alert_id)
    assert names.count("alert.contacted") == 1
    assert names[-1] == "alert.resolved"
    phone = await client.get(f"/v1/alerts/{alert_id}", headers=auth(credential))
    assert phone.json()["status"] == "resolved"


async def test_transit_staff_see_a_pseudonymous_view_and_cannot_resolve(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await token_on_duty(client, context, "petugas.tj", "transit_staff", "transjakarta")
    await on_duty(context, "konselor.kb", KB)
    alert_id, _, _ = await offered_alert(
        client, context, contact={"name": "CANARY-NAME", "phone": "0812"}, message="CANARY-TEXT"
    )
    transit_leg = next(g for g in await legs(context, alert_id) if g.leg_kind == "transit")
    assert (
        await post(client, f"/v1/assignments/{transit_leg.id}/accept", token)
    ).status_code == 200

    view = await client.get(f"/v1/alerts/{alert_id}", headers=auth(token))
    assert view.status_code == 200
    assert "CANARY" not in view.text
    assert view.json()["case_code"].startswith("SGP-")
    on_scene = await post(
        client, f"/v1/alerts/{alert_id}/progress", token, {"milestone": "on_scene"}
    )
    assert on_scene.status_code == 200
    refused = await post(
        client, f"/v1/alerts/{alert_id}/resolve", token, {"disposition": "assisted"}
    )
    assert refused.status_code == 403


async def test_other_posts_cannot_see_or_touch_the_alert(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await on_duty(context, "konselor.kb", KB)
    outsider = await staff_token(client, context, "konselor.tebet", "counselor", "3174010")
    alert_id, _, offer = await offered_alert(client, context)

    for response in (
        await client.get(f"/v1/alerts/{alert_id}", headers=auth(outsider)),
        await client.get(f"/v1/alerts/{alert_id}/routing", headers=auth(outsider)),
        await client.get(f"/v1/alerts/{alert_id}/timeline", headers=auth(outsider)),
        await post(client, f"/v1/assignments/{offer}/accept", outsider),
        await post(client, f"/v1/alerts/{alert_id}/progress", outsider, {"milestone": "contacted"}),
    ):
        assert response.status_code == 404, response.text
    listing = await client.get("/v1/assignments", headers=auth(outsider))
    assert listing.json()["items"] == []


async def test_the_routing_explanation_shows_candidates_and_skipped_units(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    alert_id, _, _ = await offered_alert(client, context)
    routing = await client.get(f"/v1/alerts/{alert_id}/routing", headers=auth(token))
    assert routing.status_code == 200, routing.text
    decision = routing.json()["decisions"][0]
    assert decision["step"] == 0 and decision["trigger"] == "received"
    candidates = {c["code"]: c for c in decision["decision"]["candidates"]}
    assert candidates[KB]["available"] is True and candidates[KB]["distance_m"] > 0
    assert candidates[KL]["skip_reason"] == "nobody_on_duty"
    assert [leg["unit_code"] for leg in decision["legs"]] == [KB]
    mine = await client.get("/v1/assignments", headers=auth(token))
    assert [item["alert_id"] for item in mine.json()["items"]] == [alert_id]


async def test_supervisor_breaks_a_claim_and_reassigns_with_an_audit_trail(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    supervisor = await token_on_duty(client, context, "supervisor", "supervisor", "central")
    await on_duty(context, "konselor.kl", KL)
    alert_id, _, offer = await offered_alert(client, context)
    await post(client, f"/v1/assignments/{offer}/accept", token)

    counselor_try = await post(
        client, f"/v1/assignments/{offer}/break", token, {"reason": "not mine"}
    )
    assert counselor_try.status_code == 403
    broken = await post(
        client, f"/v1/assignments/{offer}/break", supervisor, {"reason": "holder unreachable"}
    )
    assert broken.status_code == 200, broken.text
    assert broken.json()["status"] == "released"
    moved = await post(
        client,
        f"/v1/alerts/{alert_id}/reassign",
        supervisor,
        {"unit_code": KL, "reason": "closer counselor"},
    )
    assert moved.status_code == 200, moved.text
    open_legs = [
        (g.unit_code, g.status) for g in await legs(context, alert_id) if g.status == "offered"
    ]
    assert open_legs == [(KL, "offered")]
    unknown = await post(
        client,
        f"/v1/alerts/{alert_id}/reassign",
        supervisor,
        {"unit_code": "nope", "reason": "typo"},
    )
    assert unknown.status_code == 422


async def test_cancel_withdraws_open_offers(client: httpx.AsyncClient, context: AppContext) -> None:
    await on_duty(context, "konselor.kb", KB)
    alert_id, credential, _ = await offered_alert(client, context)
    cancelled = await client.post(
        f"/v1/alerts/{alert_id}/cancel", headers=auth(credential), json={}
    )
    assert cancelled.status_code == 200, cancelled.text
    await drain(context)
    assert [g.status for g in await legs(context, alert_id)] == ["withdrawn"]


async def test_notifications_reach_everyone_once_and_never_carry_identity(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await on_duty(context, "konselor.kb", KB)
    await on_duty(context, "supervisor", "central", role="supervisor")
    context.settings.dispatch.max_post_attempts = 1
    try:
        await offered_alert(client, context, victim_is_child=True)
        for _ in range(2):  # the post times out, then the central desk: 112
            clock.advance(130)
            await drain(context)
    finally:
        context.settings.dispatch.max_post_attempts = 3
    await deliver_notifications(context)
    await deliver_notifications(context)  # nothing is sent twice
    recorder = context.notifiers[0]
    assert isinstance(recorder, RecordingProvider)
    assert sorted((m.recipient_username, m.kind) for m in recorder.sent) == [
        ("konselor.kb", "offer"),
        # the escalation, the acknowledgement breach and the 112 hand-off, coalesced (the
        # dispatcher brings an alert's clocks up to date in its own transaction)
        ("supervisor", "digest"),
        ("supervisor", "offer"),  # also on duty at the central desk
    ]
    assert all("SGP-" in m.text and "child" not in m.text.lower() for m in recorder.sent)
    digest = next(m for m in recorder.sent if m.kind == "digest")
    assert "3 urgent updates" in digest.text and "112" in digest.text
    assert "acknowledgement deadline missed" in digest.text


async def test_the_per_alert_limit_holds_routine_messages_but_never_critical_ones(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    person = await on_duty(context, "supervisor", "central", role="supervisor")
    _, credential = await register(client)
    alert_id = uuid.UUID((await press(client, credential, press_body(context))).json()["id"])
    settings = context.settings.dispatch
    async with context.sessions() as session:
        for n, kind in enumerate(["offer", "offer", "offer", "offer", "escalation", "transfer"]):
            await queue(
                session,
                recipients=[person],
                kind=kind,
                text="Sigap SGP-X: test",
                alert_id=alert_id,
                ref=str(n),
                now=context.clock.now(),
                settings=settings,
            )
        await session.commit()
        rows = (
            await session.execute(
                select(Notification.kind, Notification.status).order_by(Notification.dedupe_key)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("escalation", "queued"),
        ("offer", "queued"),
        ("offer", "queued"),
        ("offer", "queued"),
        ("offer", "suppressed"),  # the fourth routine message within the window
        ("transfer", "queued"),
    ]


async def test_the_daily_spending_cap_suppresses_beyond_it(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await on_duty(context, "konselor.kb", KB)
    await on_duty(context, "konselor.kb2", KB)
    context.settings.dispatch.notify_daily_cap = 1
    try:
        await offered_alert(client, context)
        await deliver_notifications(context)
    finally:
        context.settings.dispatch.notify_daily_cap = 2000
    async with context.sessions() as session:
        statuses = sorted((await session.scalars(select(Notification.status))).all())
    assert statuses == ["sent", "suppressed"]

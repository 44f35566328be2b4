"""No way round the glass: taking the claim of a restricted alert and seeing who is in it are
separate. An admin or a supervisor who reassigns a restricted alert to the central desk and
accepts it there reads no identity without a grant (REST, notes, timeline, stream), and the break-
glass report shows both the claim and the grant; the central desk's counselor at night takes a
restricted alert and works it pseudonymously, seeing its identity only through the glass."""

from __future__ import annotations

import uuid

import httpx
import pytest

from app.context import AppContext
from app.policy.sight import LegSight
from app.realtime.scopes import AlertFacts, Audience, StreamEvent, message_for
from tests.dispatch.staffing import events, legs, token_on_duty
from tests.helpers import auth, staff_token
from tests.policy.test_break_glass import CANARIES, REASON, _restricted_child_alert

CENTRAL_REASON = "Malam ini pos tidak ada yang jaga, korban perlu dihubungi segera"


async def _sees_anything(client: httpx.AsyncClient, alert_id: str, token: str) -> set[str]:
    """Every canary that reaches ``token`` through the alert, its notes, timeline, routing,
    trail, the board's list and the assignments list."""
    found: set[str] = set()
    for url in (
        f"/v1/alerts/{alert_id}",
        f"/v1/alerts/{alert_id}/notes",
        f"/v1/alerts/{alert_id}/timeline",
        f"/v1/alerts/{alert_id}/routing",
        f"/v1/alerts/{alert_id}/trail",
        "/v1/alerts",
        "/v1/assignments?status=accepted",
    ):
        answer = await client.get(url, headers=auth(token))
        assert answer.status_code in (200, 403), (url, answer.status_code, answer.text)
        found |= {c for c in CANARIES if c in answer.text}
    return found


async def _stream_canaries(context: AppContext, alert_id: str, audience: Audience) -> list[str]:
    """What the stream sends ``audience`` of the alert's whole history, checked for canaries."""
    rows = await legs(context, alert_id)
    facts = AlertFacts(
        device_id=uuid.uuid4(),
        device_closed_seq=None,
        legs=tuple(
            LegSight(g.unit_id, g.offered_at, g.closed_at, g.status, g.unit_code, g.accepted_by)
            for g in rows
        ),
    )
    leaked, sent = [], 0
    for row in await events(context, alert_id):
        event = StreamEvent(row.seq or 0, row.event_type, row.created_at, row.alert_id, row.payload)
        message = message_for(audience, event, facts)
        if message is not None:
            sent += 1
            leaked += [f"{row.event_type}: {c}" for c in CANARIES if c in repr(message)]
    assert sent > 0  # the audience follows the alert: the check is not vacuous
    return leaked


async def _accept_central(
    client: httpx.AsyncClient, context: AppContext, alert_id: str, token: str
) -> str:
    leg = next(
        str(g.id)
        for g in await legs(context, alert_id)
        if g.unit_code == "central" and g.status == "offered"
    )
    accepted = await client.post(f"/v1/assignments/{leg}/accept", headers=auth(token))
    assert accepted.status_code == 200, accepted.text  # accepting is never refused
    return leg


@pytest.mark.parametrize("role", ["supervisor", "admin"])
async def test_reassigning_a_restricted_alert_to_oneself_and_accepting_it_opens_nothing(
    client: httpx.AsyncClient, context: AppContext, role: str
) -> None:
    alert_id, tokens = await _restricted_child_alert(client, context)
    me = tokens["supervisor" if role == "supervisor" else "admin"]
    moved = await client.post(
        f"/v1/alerts/{alert_id}/reassign",
        json={"unit_code": "central", "reason": "ops"},
        headers=auth(me),
    )
    assert moved.status_code == 200, moved.text
    leg = await _accept_central(client, context, alert_id, me)

    # The claim holder works from the pseudonymous view: state, location, routing, actions.
    assert await _sees_anything(client, alert_id, me) == set()
    view = (await client.get(f"/v1/alerts/{alert_id}", headers=auth(me))).json()
    assert view["restricted"] is True and view["contact"] is None and view["message"] is None
    assert view["victim_is_child"] is None and view["last_location"] is not None
    notes = (await client.get(f"/v1/alerts/{alert_id}/notes", headers=auth(me))).json()
    assert [n["text"] for n in notes] == [None]
    assert await _stream_canaries(context, alert_id, Audience(kind="staff", role=role)) == []

    # The report shows the claim taken after one's own reassignment, with its stated reason.
    report = (await client.get("/v1/break-glass", headers=auth(tokens["admin"]))).json()
    (line,) = report["items"]
    assert line["kind"] == "claim_after_reassign" and line["id"] == leg
    assert line["alert_id"] == alert_id and line["reason"] == "ops"
    assert line["username"] == ("spv" if role == "supervisor" else "adm")
    assert line["expires_at"] is None

    glass = await client.post(
        f"/v1/alerts/{alert_id}/break-glass", json={"reason": REASON}, headers=auth(me)
    )
    if role == "admin":  # never, not even holding the claim
        assert glass.status_code == 403
        assert view["break_glass"] is None
        assert await _sees_anything(client, alert_id, me) == set()
        return
    assert view["break_glass"] is not None
    assert glass.status_code == 201, glass.text
    assert await _sees_anything(client, alert_id, me) == set(CANARIES)  # through the glass
    report = (await client.get("/v1/break-glass", headers=auth(tokens["admin"]))).json()
    kinds = sorted((i["kind"], i["username"]) for i in report["items"])
    assert kinds == [("claim_after_reassign", "spv"), ("grant", "spv")]


async def test_breaking_the_claim_and_taking_it_oneself_is_reported_too(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """The same laundering by the other route: break the holder's claim, reassign to the desk
    (the post's re-offer is withdrawn), accept."""
    alert_id, tokens = await _restricted_child_alert(client, context)
    spv = auth(tokens["supervisor"])
    held = next(str(g.id) for g in await legs(context, alert_id) if g.status == "accepted")
    broken = await client.post(
        f"/v1/assignments/{held}/break", json={"reason": "lease stuck"}, headers=spv
    )
    assert broken.status_code == 200, broken.text
    assert (
        await client.post(
            f"/v1/alerts/{alert_id}/reassign",
            json={"unit_code": "central", "reason": "ops"},
            headers=spv,
        )
    ).status_code == 200
    await _accept_central(client, context, alert_id, tokens["supervisor"])
    assert await _sees_anything(client, alert_id, tokens["supervisor"]) == set()
    report = (await client.get("/v1/break-glass", headers=spv)).json()
    assert [(i["kind"], i["reason"]) for i in report["items"]] == [("claim_after_reassign", "ops")]


async def test_the_central_desk_at_night_takes_a_restricted_alert_and_works_it_pseudonymously(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    alert_id, tokens = await _restricted_child_alert(client, context)
    desk = await token_on_duty(client, context, "konselor.pusat", "counselor", "central")
    moved = await client.post(
        f"/v1/alerts/{alert_id}/reassign",
        json={"unit_code": "central", "reason": "post closed for the night"},
        headers=auth(tokens["supervisor"]),
    )
    assert moved.status_code == 200, moved.text
    await _accept_central(client, context, alert_id, desk)
    headers = auth(desk)

    view = (await client.get(f"/v1/alerts/{alert_id}", headers=headers)).json()
    assert view["restricted"] is True and view["contact"] is None
    assert view["last_location"] is not None and view["break_glass"] is not None
    trail = await client.get(f"/v1/alerts/{alert_id}/trail", headers=headers)
    assert trail.status_code == 200 and trail.json()  # the trail of fixes
    contacted = await client.post(
        f"/v1/alerts/{alert_id}/progress", json={"milestone": "contacted"}, headers=headers
    )
    assert contacted.status_code == 200, contacted.text
    assert not any(c in contacted.text for c in CANARIES)
    assert await _sees_anything(client, alert_id, desk) == set()
    central_unit = next(
        g.unit_id for g in await legs(context, alert_id) if g.unit_code == "central"
    )
    audience = Audience(kind="staff", role="counselor", unit_id=central_unit, unit_code="central")
    assert await _stream_canaries(context, alert_id, audience) == []
    # Another counselor somewhere else may not break it; the desk's counselor may, reported.
    stranger = await client.post(
        f"/v1/alerts/{alert_id}/break-glass",
        json={"reason": CENTRAL_REASON},
        headers=auth(tokens["stranger"]),
    )
    assert stranger.status_code == 404
    glass = await client.post(
        f"/v1/alerts/{alert_id}/break-glass", json={"reason": CENTRAL_REASON}, headers=headers
    )
    assert glass.status_code == 201, glass.text
    whole = (await client.get(f"/v1/alerts/{alert_id}", headers=headers)).json()
    assert whole["contact"]["name"] == "CANARY-NAME" and whole["glass_until"] is not None
    notes = (await client.get(f"/v1/alerts/{alert_id}/notes", headers=headers)).json()
    assert [n["text"] for n in notes] == ["CANARY-NOTE"]
    report = (await client.get("/v1/break-glass", headers=auth(tokens["admin"]))).json()
    assert [(i["kind"], i["username"], i["reason"]) for i in report["items"]] == [
        ("grant", "konselor.pusat", CENTRAL_REASON)
    ]
    # Her colleague at the desk has a grant of her own to make, or nothing.
    colleague = await staff_token(client, context, "konselor.pusat2", "counselor", "central")
    assert await _sees_anything(client, alert_id, colleague) == set()

"""Need-to-know on the real database: the scenario that leaked on main (a post whose offer expired
kept reading the note, contact and live location of the post that took over), child identity,
and the pseudonymous transit view."""

from __future__ import annotations

import uuid
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import select

from app.access import IntegratorPrincipal, Principal, StaffPrincipal
from app.clock import FrozenClock
from app.context import AppContext
from app.integrations import export
from app.models import Alert, AuditEntry
from app.policy.alerts import AlertAccess, export_shows_child
from app.policy.fields import FULL, TRANSIT
from tests.dispatch.staffing import drain, legs, on_duty, token_on_duty
from tests.helpers import auth, press, press_body, register, staff_token

KB, KL = "3171060", "3171050"


async def _press(client: httpx.AsyncClient, context: AppContext, **fields: object) -> str:
    _, credential = await register(client)
    response = await press(client, credential, press_body(context, **fields))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _leg(context: AppContext, alert_id: str, unit: str) -> str:
    return next(str(g.id) for g in reversed(await legs(context, alert_id)) if g.unit_code == unit)


async def test_a_post_whose_offer_expired_sees_up_to_the_close_then_passed_to(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    kb = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    kl = await token_on_duty(client, context, "konselor.kl", "counselor", KL)
    await on_duty(context, "pusat", "central")
    alert_id = await _press(client, context, contact={"name": "CANARY-NAME"})
    await drain(context)
    clock.advance(60)  # Kebayoran Baru's offer expires; Kebayoran Lama is offered
    await drain(context)
    kl_leg = await _leg(context, alert_id, KL)
    clock.advance(5)
    assert (await client.post(f"/v1/assignments/{kl_leg}/accept", headers=auth(kl))).is_success
    note = {"text": "CANARY-NOTE"}
    assert (
        await client.post(f"/v1/alerts/{alert_id}/notes", json=note, headers=auth(kl))
    ).status_code == 201

    within = await client.get(f"/v1/alerts/{alert_id}/notes", headers=auth(kb))
    assert within.status_code == 200 and within.json() == []  # written after its close
    timeline = (await client.get(f"/v1/alerts/{alert_id}/timeline", headers=auth(kb))).json()
    assert "alert.note_added" not in [e["event"] for e in timeline]
    assert "assignment.expired" in [e["event"] for e in timeline]

    clock.advance(116)  # the grace is over
    for path in ("", "/notes", "/timeline", "/routing", "/sla"):
        answer = await client.get(f"/v1/alerts/{alert_id}{path}", headers=auth(kb))
        assert answer.status_code == 404, (path, answer.text)
        problem = answer.json()
        assert problem["type"].endswith("/passed-on") and problem["passed_to"] == [KL]
        assert "CANARY" not in answer.text
    async with context.sessions() as session:
        denied = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "alert.access_denied")
            )
        ).all()
    assert len(denied) == 5 and all(d.detail == {"passed_on": True} for d in denied)
    # Kebayoran Lama, which holds it, still reads everything.
    assert (
        "CANARY-NOTE" in (await client.get(f"/v1/alerts/{alert_id}/notes", headers=auth(kl))).text
    )


async def test_a_late_accept_after_the_grace_is_refused(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    kb = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    await on_duty(context, "konselor.kl", KL)
    alert_id = await _press(client, context)
    await drain(context)
    kb_leg = await _leg(context, alert_id, KB)
    clock.advance(60)
    await drain(context)
    clock.advance(121)
    answer = await client.post(f"/v1/assignments/{kb_leg}/accept", headers=auth(kb))
    assert answer.status_code == 409 and answer.json()["type"].endswith("/offer-closed")


async def test_a_child_victims_identity_waits_for_the_claim(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    kb = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    alert_id = await _press(
        client, context, victim_is_child=True, contact={"name": "CANARY-NAME", "phone": "0812"}
    )
    await drain(context)
    offered = (await client.get(f"/v1/alerts/{alert_id}", headers=auth(kb))).json()
    assert offered["contact"] is None and offered["victim_is_child"] is None
    assert "CANARY" not in str(offered)
    kb_leg = await _leg(context, alert_id, KB)
    assert (await client.post(f"/v1/assignments/{kb_leg}/accept", headers=auth(kb))).is_success
    held = (await client.get(f"/v1/alerts/{alert_id}", headers=auth(kb))).json()
    assert held["contact"]["name"] == "CANARY-NAME" and held["victim_is_child"] is True


async def test_transit_staff_see_a_pseudonymous_alert_with_the_approach_every_alert_carries(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await on_duty(context, "konselor.kb", KB)
    tj = await token_on_duty(client, context, "petugas.tj", "transit_staff", "transjakarta")
    alert_id = await _press(
        client,
        context,
        victim_is_child=False,
        companion_preference="female",
        contact={"name": "CANARY-NAME"},
    )
    await drain(context)
    view = (await client.get(f"/v1/alerts/{alert_id}", headers=auth(tj))).json()
    for hidden in ("victim_is_child", "companion_preference", "duress", "contact", "message"):
        assert view[hidden] is None, hidden
    # Not a marker of this alert: every alert tells them the same (app.policy.profile).
    assert (view["do_not_call_back"], view["approach"]) == (True, "discreet")
    assert "CANARY" not in str(view)


async def test_reads_of_routing_timeline_clocks_and_case_are_audited(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    kb = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    alert_id = await _press(client, context)
    await drain(context)
    for path in ("/routing", "/timeline", "/sla"):
        assert (await client.get(f"/v1/alerts/{alert_id}{path}", headers=auth(kb))).is_success
    async with context.sessions() as session:
        actions = set((await session.scalars(select(AuditEntry.action))).all())
    assert {"alert.routing_read", "alert.timeline_read", "alert.sla_read"} <= actions


async def test_exports_ask_the_policy_whether_to_tell_a_child(
    client: httpx.AsyncClient, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EIDO's ``victimIsChild`` and SIMFONI's age group follow ``app.policy``'s one decision
    (``export_shows_child``), not a copy of it in the export module."""
    supervisor = await staff_token(client, context, "spv", "supervisor", "central")
    alert_id = await _press(client, context, victim_is_child=True)
    await drain(context)
    eido = f"/v1/exports/alerts/{alert_id}/eido"
    shown = (await client.get(eido, headers=auth(supervisor))).json()["incidentComponent"]
    assert shown["victimIsChild"] is True
    asked: list[str] = []

    def refusing(principal: Principal, alert: Alert, access: AlertAccess) -> bool:
        asked.append(alert.case_code)
        return False

    monkeypatch.setattr(export, "export_shows_child", refusing)
    hidden = (await client.get(eido, headers=auth(supervisor))).json()["incidentComponent"]
    assert asked and "victimIsChild" not in hidden


def test_who_an_export_tells_that_the_victim_is_a_child() -> None:
    alert = Alert(handed_over_to="police")
    open_record = AlertAccess(fields=TRANSIT)
    restricted = AlertAccess(fields=replace(FULL, restricted=True))

    def staff(role: str) -> StaffPrincipal:
        return StaffPrincipal(uuid.uuid4(), role, role, None, None, None)

    def client(data_scope: str) -> IntegratorPrincipal:
        return IntegratorPrincipal(
            uuid.uuid4(), data_scope, frozenset({"exports:read"}), data_scope=data_scope
        )

    for who, told in (
        (staff("supervisor"), True),
        (staff("admin"), True),
        (staff("counselor"), False),
        (client("police"), True),
        (client("112"), False),
        (client("transit"), False),
    ):
        assert export_shows_child(who, alert, open_record) is told, who
        assert export_shows_child(who, alert, restricted) is False, who
    assert (
        export_shows_child(client("police"), Alert(handed_over_to="shelter"), open_record) is False
    )


async def test_in_the_grace_the_alert_shows_the_location_as_of_the_close_like_the_trail(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    """A post whose offer expired may still open the alert for 120 s (a late accept), seeing
    what happened up to the close: its trail and timeline stop there, and so does the alert's
    ``last_location`` (it showed the victim's newest fix)."""
    kb = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    await on_duty(context, "konselor.kl", KL)
    _, credential = await register(client)
    alert_id = (await press(client, credential, press_body(context))).json()["id"]
    await drain(context)
    clock.advance(30)

    def fix(lat: float) -> dict[str, object]:
        point = {"lat": lat, "lon": 106.80, "accuracy_m": 8, "fix_at": clock.now().isoformat()}
        return {"points": [point]}

    before_close = await client.post(
        f"/v1/alerts/{alert_id}/locations", json=fix(-6.2440), headers=auth(credential)
    )
    assert before_close.status_code == 200, before_close.text
    clock.advance(30)  # Kebayoran Baru's offer expires at 60 s
    await drain(context)
    assert next(g for g in await legs(context, alert_id) if g.unit_code == KB).status == "expired"
    clock.advance(10)
    moved = await client.post(
        f"/v1/alerts/{alert_id}/locations", json=fix(-6.2600), headers=auth(credential)
    )
    assert moved.status_code == 200

    alert = (await client.get(f"/v1/alerts/{alert_id}", headers=auth(kb))).json()
    trail = (await client.get(f"/v1/alerts/{alert_id}/trail", headers=auth(kb))).json()
    assert [p["lat"] for p in trail][-1] == -6.2440
    assert alert["last_location"]["lat"] == -6.2440  # not -6.26: received after the close
    assert alert["last_location"] == trail[-1]
    supervisor = await staff_token(client, context, "pengawas", "supervisor", "central")
    newest = (await client.get(f"/v1/alerts/{alert_id}", headers=auth(supervisor))).json()
    assert newest["last_location"]["lat"] == -6.26

"""A case through its whole legal life: the police report's 3 x 24 h from the alert's receipt,
protection within 1 x 24 h of the report, LPSK within 1 x 24 h of protection, its 14-day expiry,
triage by risk, trafficking services in 7 days, and no mediation for sexual violence."""

from __future__ import annotations

from datetime import timedelta

import httpx

from app.clock import FrozenClock
from app.context import AppContext
from app.sla.monitor import run_cycle
from tests.dispatch.staffing import drain, legs, post, token_on_duty
from tests.helpers import auth, press, press_body, register, sign_in
from tests.sla.test_monitor import clocks, sla_events

KB = "3171060"
H = 3600.0


async def test_legal_clocks_through_a_case(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)

    async def as_counselor(path: str, body: dict[str, object]) -> httpx.Response:
        # Days pass in this test: sign in afresh, as the counselor would each shift.
        fresh = (await sign_in(client, "konselor.kb"))["access_token"]
        return await post(client, path, fresh, body)

    _, credential = await register(client)
    alert_id = str((await press(client, credential, press_body(context))).json()["id"])
    received = clock.now()
    await drain(context)
    offer = next(g for g in await legs(context, alert_id) if g.unit_code == KB)
    await post(client, f"/v1/assignments/{offer.id}/accept", token)

    clock.advance(2 * H)  # the case is opened two hours after the press
    opened = await as_counselor(
        f"/v1/alerts/{alert_id}/case",
        {
            "violence_types": ["seksual", "trafficking"],
            "risk_level": "high",
            "victim_age_group": "child",
        },
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    await run_cycle(context)
    found = await clocks(context, alert_id)
    assert found["police_report"].deadline_at == received + timedelta(hours=72)  # not from now
    assert found["triage"].deadline_at == clock.now() + timedelta(hours=1)  # high risk

    fresh = (await sign_in(client, "konselor.kb"))["access_token"]
    mediation = await client.patch(
        f"/v1/cases/{case_id}", headers=auth(fresh), json={"stage": "mediasi"}
    )
    assert mediation.status_code == 422
    assert mediation.json()["type"] == "/problems/mediation-forbidden"

    too_early = await as_counselor(
        f"/v1/cases/{case_id}/milestones", {"milestone": "protection_granted"}
    )
    assert too_early.status_code == 409  # the police report comes first

    clock.advance(46 * H)  # 48 h after the press: in time
    for milestone in ("police_reported", "followed_up"):
        done = await as_counselor(f"/v1/cases/{case_id}/milestones", {"milestone": milestone})
        assert done.status_code == 200, done.text
    await run_cycle(context)
    found = await clocks(context, alert_id)
    assert found["police_report"].status == "met"
    assert found["triage"].status == "breached"  # high risk: within the hour, it took 48
    assert found["protection"].deadline_at == clock.now() + timedelta(hours=24)

    clock.advance(25 * H)  # protection comes an hour late
    await run_cycle(context)
    assert (await clocks(context, alert_id))["protection"].status == "breached"
    granted = await as_counselor(
        f"/v1/cases/{case_id}/milestones",
        {
            "milestone": "protection_granted",
            "occurred_at": (clock.now() - timedelta(hours=1)).isoformat(),
        },
    )
    assert granted.status_code == 200
    again = await as_counselor(
        f"/v1/cases/{case_id}/milestones", {"milestone": "protection_granted"}
    )
    assert again.status_code == 409  # a legal record is not rewritten
    future = await as_counselor(
        f"/v1/cases/{case_id}/milestones",
        {
            "milestone": "lpsk_requested",
            "occurred_at": (clock.now() + timedelta(hours=1)).isoformat(),
        },
    )
    assert future.status_code == 422
    await as_counselor(f"/v1/cases/{case_id}/milestones", {"milestone": "services_applied"})
    await run_cycle(context)
    found = await clocks(context, alert_id)
    assert found["lpsk_request"].status == "running"
    assert found["protection_expiry"].deadline_at - found["protection_expiry"].started_at == (
        timedelta(days=14)
    )
    assert found["trafficking_services"].deadline_at - clock.now() == timedelta(days=7)

    clock.advance(23 * H)
    await as_counselor(f"/v1/cases/{case_id}/milestones", {"milestone": "lpsk_requested"})
    clock.advance(14 * 24 * H)  # nobody recorded the end or renewal of protection
    await run_cycle(context)
    found = await clocks(context, alert_id)
    assert found["lpsk_request"].status == "met"
    assert found["protection_expiry"].status == "breached"
    assert found["trafficking_services"].status == "breached"
    events = await sla_events(context, alert_id)
    assert "sla.breached:protection" in events and "sla.breached:police_report" not in events
    fresh = (await sign_in(client, "konselor.kb"))["access_token"]
    read = await client.get(f"/v1/alerts/{alert_id}/sla", headers=auth(fresh))
    assert {c["clock"] for c in read.json()} >= {"police_report", "protection", "lpsk_request"}


async def test_transit_staff_cannot_open_or_read_a_case(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    transit = await token_on_duty(client, context, "petugas.tj", "transit_staff", "transjakarta")
    await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    _, credential = await register(client)
    alert_id = str((await press(client, credential, press_body(context))).json()["id"])
    await drain(context)
    refused = await post(
        client,
        f"/v1/alerts/{alert_id}/case",
        transit,
        {"violence_types": ["fisik"], "risk_level": "low"},
    )
    assert refused.status_code == 403

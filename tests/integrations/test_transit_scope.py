"""A transit operator's system loses sight of an alert when its staff do: at the close of the
operator's last leg, plus the late-accept grace after an expiry (``app.policy.sight``); and may
report partner status on it as long as it sees it, no longer."""

from __future__ import annotations

import httpx

from app.clock import FrozenClock
from app.context import AppContext
from app.policy.roles import LATE_ACCEPT_GRACE
from tests.dispatch.staffing import drain, legs, on_duty, token_on_duty
from tests.helpers import auth, integrator_token, press, press_body, register
from tests.integrations.test_webhooks import client_token, transferred_alert

KB = "3171060"
READS = ("/v1/alerts/{id}", "/v1/exports/alerts/{id}/eido")


async def _offered_to_transjakarta(
    client: httpx.AsyncClient, context: AppContext
) -> tuple[str, str, str]:
    """(alert id, Transjakarta's leg, its system's token): pressed at TJ Blok M and routed."""
    await on_duty(context, "konselor.kb", KB)
    system = await integrator_token(
        client,
        context,
        ["alerts:read", "exports:read", "partner_status:write"],
        data_scope="transit",
        unit_code="transjakarta",
    )
    _, device = await register(client)
    alert_id = (await press(client, device, press_body(context))).json()["id"]
    await drain(context)
    leg = next(g for g in await legs(context, alert_id) if g.unit_code == "transjakarta")
    return alert_id, str(leg.id), system


async def _statuses(client: httpx.AsyncClient, alert_id: str, token: str) -> list[int]:
    """The reads, then a partner status report: judged alike, at the time of the request."""
    reads = [
        (await client.get(path.format(id=alert_id), headers=auth(token))).status_code
        for path in READS
    ]
    report = await client.post(
        "/v1/integrations/status",
        json={"alert_id": alert_id, "status": "on_scene"},
        headers=auth(token),
    )
    return [*reads, report.status_code]


async def test_declined_by_the_operator_its_system_sees_the_alert_no_more(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    tj = await token_on_duty(client, context, "petugas.tj", "transit_staff", "transjakarta")
    alert_id, leg, system = await _offered_to_transjakarta(client, context)
    assert await _statuses(client, alert_id, system) == [200, 200, 201]
    declined = await client.post(
        f"/v1/assignments/{leg}/decline", json={"reason": "no staff at the halte"}, headers=auth(tj)
    )
    assert declined.is_success, declined.text
    clock.advance(1)
    assert await _statuses(client, alert_id, system) == [404, 404, 404]
    # Its staff, the same.
    assert (await client.get(f"/v1/alerts/{alert_id}", headers=auth(tj))).status_code == 404


async def test_an_expired_offer_leaves_its_system_the_late_accept_grace(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await on_duty(context, "petugas.tj", "transjakarta", role="transit_staff")
    alert_id, leg, system = await _offered_to_transjakarta(client, context)
    expiry = next(g for g in await legs(context, alert_id) if str(g.id) == leg).deadline_at
    clock.advance((expiry - clock.now()).total_seconds())
    await drain(context)
    assert next(g for g in await legs(context, alert_id) if str(g.id) == leg).status == "expired"
    clock.advance(LATE_ACCEPT_GRACE.total_seconds())
    assert await _statuses(client, alert_id, system) == [200, 200, 201]
    clock.advance(1)
    assert await _statuses(client, alert_id, system) == [404, 404, 404]


async def test_112_may_still_report_on_an_alert_transferred_long_ago(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    """Police and 112 keep what was handed to them: their reports are not cut off by time."""
    alert_id = await transferred_alert(client, context)
    clock.advance(3 * 86_400)
    token = await client_token(client, context, scopes=["partner_status:write"], data_scope="112")
    report = await client.post(
        "/v1/integrations/status",
        json={"alert_id": str(alert_id), "status": "closed", "disposition": "assisted"},
        headers=auth(token),
    )
    assert report.status_code == 201, report.text


async def test_the_case_export_never_reaches_a_transit_or_112_system(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """A transit operator's system sees the alert (its staff do) but never its case file, even
    with cases:read; nor does 112's. Case data is for the police after a hand-over."""
    from app.access import IntegratorPrincipal
    from app.policy.integrators import integrator_may_read_cases
    from tests.helpers import staff_token

    await on_duty(context, "petugas.tj", "transjakarta", role="transit_staff")
    alert_id, _, _ = await _offered_to_transjakarta(client, context)
    supervisor = await staff_token(client, context, "spv.case", "supervisor", "central")
    opened = await client.post(
        f"/v1/alerts/{alert_id}/case",
        json={"violence_types": ["seksual"], "risk_level": "high"},
        headers=auth(supervisor),
    )
    assert opened.status_code == 201, opened.text
    simfoni = f"/v1/exports/alerts/{alert_id}/simfoni"
    assert (await client.get(simfoni, headers=auth(supervisor))).status_code == 200
    system = await integrator_token(
        client,
        context,
        ["alerts:read", "exports:read", "cases:read"],
        data_scope="transit",
        unit_code="transjakarta",
    )
    assert (await client.get(f"/v1/alerts/{alert_id}", headers=auth(system))).status_code == 200
    refused = await client.get(simfoni, headers=auth(system))
    assert refused.status_code == 403, refused.text
    assert "seksual" not in refused.text and "no_registrasi" not in refused.text

    transferred = await transferred_alert(client, context)
    dispatcher = await client_token(
        client, context, scopes=["exports:read", "cases:read"], data_scope="112"
    )
    eido = f"/v1/exports/alerts/{transferred}/eido"
    assert (await client.get(eido, headers=auth(dispatcher))).status_code == 200
    answer = await client.get(f"/v1/exports/alerts/{transferred}/simfoni", headers=auth(dispatcher))
    assert answer.status_code == 403

    def client_with(data_scope: str) -> IntegratorPrincipal:
        import uuid

        return IntegratorPrincipal(
            client_id=uuid.uuid4(),
            name="x",
            scopes=frozenset({"exports:read", "cases:read"}),
            data_scope=data_scope,
        )

    assert integrator_may_read_cases(client_with("police"))
    assert not any(integrator_may_read_cases(client_with(s)) for s in ("transit", "112", "none"))

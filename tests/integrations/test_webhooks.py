"""Outbound webhooks end to end: an integrator registers an endpoint, a 112 transfer reaches it
signed per Standard Webhooks, failures retry, 410 disables, other integrators see nothing."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import httpx
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook

from app.clock import FrozenClock
from app.context import AppContext
from app.identity.integrators import create_integrator
from app.integrations.outbound import MAX_ATTEMPTS, deliver_webhooks
from app.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from tests.helpers import auth, press, press_body, register, transfer_to_112

PUBLIC = "93.184.216.34"


async def public(host: str, port: int) -> list[str]:
    return [PUBLIC]


async def client_token(
    client: httpx.AsyncClient, context: AppContext, *, scopes: list[str], data_scope: str
) -> str:
    async with context.sessions() as session:
        credential = await create_integrator(
            session,
            name=f"client {data_scope}",
            scopes=scopes,
            now=context.clock.now(),
            keyring=context.keyring,
            data_scope=data_scope,
        )
        await session.commit()
    response = await client.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(credential.client_id, credential.client_secret),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def transferred_alert(client: httpx.AsyncClient, context: AppContext) -> uuid.UUID:
    """A pressed alert the ladder handed to 112 (the transfer written as the ladder does),
    numbered on the stream as the relay would."""
    _, credential = await register(client)
    response = await press(client, credential, press_body(context))
    alert_id = uuid.UUID(response.json()["id"])
    clock = context.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(90)  # the ladder's steps before the hand-off
    await transfer_to_112(context, alert_id)
    async with context.sessions() as session:
        await session.execute(update(OutboxEvent).values(seq=OutboxEvent.id))
        await session.commit()
    return alert_id


class Receiver:
    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status)


async def register_endpoint(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhooks/endpoints",
        json={"url": f"https://{PUBLIC}/hooks/sigap", "event_types": ["alert.transferred"]},
        headers=auth(token),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_transfer_reaches_the_112_endpoint_signed_and_thin(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await client_token(
        client, context, scopes=["webhooks:manage", "exports:read"], data_scope="112"
    )
    endpoint = await register_endpoint(client, token)
    alert_id = await transferred_alert(client, context)
    receiver = Receiver()

    delivered = await deliver_webhooks(
        context, transport=httpx.MockTransport(receiver), resolver=public
    )

    assert delivered == 1
    (request,) = receiver.requests
    assert request.url.host == PUBLIC and request.headers["host"] == PUBLIC
    body = request.content.decode()
    signature = Webhook(endpoint["secret"]).sign(
        request.headers["webhook-id"], context.clock.now(), body
    )
    assert signature in request.headers["webhook-signature"].split(" ")
    payload = request.read()
    assert str(alert_id) in body and b"contact" not in payload and b"victim_is_child" not in payload
    incident = await client.get(f"/v1/exports/alerts/{alert_id}/eido", headers=auth(token))
    assert incident.status_code == 200, incident.text
    assert incident.json()["incidentComponent"]["transferredTimestamp"] is not None
    assert "victimIsChild" not in incident.json()["incidentComponent"]
    (location,) = incident.json()["locationComponent"]
    assert location["locationByValue"]["radius"] == 15  # the press's accuracy, in metres
    assert any(s["atStation"] for s in location["stations"])  # TJ Blok M


async def test_other_data_scopes_get_no_delivery_and_no_export(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await client_token(
        client, context, scopes=["webhooks:manage", "exports:read"], data_scope="police"
    )
    await register_endpoint(client, token)
    alert_id = await transferred_alert(client, context)
    receiver = Receiver()
    await deliver_webhooks(context, transport=httpx.MockTransport(receiver), resolver=public)
    assert receiver.requests == []
    response = await client.get(f"/v1/exports/alerts/{alert_id}/eido", headers=auth(token))
    assert response.status_code == 404


async def test_events_from_before_the_alert_entered_the_scope_are_not_sent(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """The fan-out reads the alert's earlier events after the transfer (one batch); the 112
    client still gets only what happened from the transfer on, as on the stream."""
    token = await client_token(
        client, context, scopes=["webhooks:manage", "alerts:read"], data_scope="112"
    )
    response = await client.post(
        "/v1/webhooks/endpoints",
        json={
            "url": f"https://{PUBLIC}/hooks/sigap",
            "event_types": ["alert.received", "alert.transferred"],
        },
        headers=auth(token),
    )
    assert response.status_code == 201, response.text
    alert_id = await transferred_alert(client, context)
    receiver = Receiver()

    await deliver_webhooks(context, transport=httpx.MockTransport(receiver), resolver=public)

    sent = [json.loads(r.content)["type"] for r in receiver.requests]
    assert sent == ["alert.transferred"]
    assert str(alert_id) in receiver.requests[0].content.decode()


async def test_a_duress_cancel_reaches_no_integrator_webhook_in_any_form(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """Integrators are pseudonymous: for them an alert cancelled under duress goes on as if
    there had been no cancel. Nothing is sent, not as ``alert.do_not_call_back`` (still accepted
    in old subscriptions, no longer sent), ``alert.cancelled`` or ``alert.duress_signalled``,
    even to an endpoint whose stored subscription names it; the transfer (the control) is."""
    token = await client_token(
        client, context, scopes=["webhooks:manage", "alerts:read"], data_scope="112"
    )
    urls: dict[str, str] = {}
    for kind in ("alert.do_not_call_back", "alert.cancelled", "alert.transferred"):
        response = await client.post(
            "/v1/webhooks/endpoints",
            json={"url": f"https://{PUBLIC}/hooks/{kind}", "event_types": [kind]},
            headers=auth(token),
        )
        assert response.status_code == 201, response.text
        urls[kind] = response.json()["endpoint"]["id"]
    async with context.sessions() as session:  # as if the catalogue had ever listed it
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == uuid.UUID(urls["alert.cancelled"]))
            .values(event_types=["alert.duress_signalled", "alert.cancelled"])
        )
        await session.commit()
    _, credential = await register(client)
    pins = {"cancel_pin": "2468", "duress_pin": "1357"}
    assert (await client.put("/v1/devices/me/pins", json=pins, headers=auth(credential))).is_success
    alert_id = (await press(client, credential, press_body(context))).json()["id"]
    await transfer_to_112(context, alert_id)
    cancel = await client.post(
        f"/v1/alerts/{alert_id}/cancel", json={"pin": "1357"}, headers=auth(credential)
    )
    assert cancel.status_code == 200, cancel.text
    async with context.sessions() as session:
        await session.execute(update(OutboxEvent).values(seq=OutboxEvent.id))
        await session.commit()
    receiver = Receiver()

    await deliver_webhooks(context, transport=httpx.MockTransport(receiver), resolver=public)

    sent = [(r.url.path, json.loads(r.content)) for r in receiver.requests]
    assert [(path, body["type"]) for path, body in sent] == [
        ("/hooks/alert.transferred", "alert.transferred")
    ]
    assert sent[0][1]["data"]["alert_id"] == alert_id
    assert "duress" not in receiver.requests[0].content.decode()


async def test_failures_retry_with_the_same_id_and_410_disables(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await client_token(client, context, scopes=["webhooks:manage"], data_scope="112")
    token_read = await client_token(
        client, context, scopes=["webhooks:manage", "alerts:read"], data_scope="112"
    )
    del token
    endpoint = await register_endpoint(client, token_read)
    await transferred_alert(client, context)
    failing = Receiver(503)
    rng = random.Random(7)
    await deliver_webhooks(
        context, transport=httpx.MockTransport(failing), resolver=public, rng=rng
    )
    assert len(failing.requests) == 1
    # Not due yet: nothing is sent before the back-off has passed.
    await deliver_webhooks(
        context, transport=httpx.MockTransport(failing), resolver=public, rng=rng
    )
    assert len(failing.requests) == 1
    context.clock.advance(30)  # type: ignore[attr-defined]
    gone = Receiver(410)
    await deliver_webhooks(context, transport=httpx.MockTransport(gone), resolver=public, rng=rng)
    assert gone.requests[0].headers["webhook-id"] == failing.requests[0].headers["webhook-id"]
    async with context.sessions() as session:
        row = await session.get(WebhookEndpoint, uuid.UUID(endpoint["endpoint"]["id"]))
        assert row is not None and row.disabled_at is not None
    log = await client.get(
        f"/v1/webhooks/endpoints/{endpoint['endpoint']['id']}/deliveries", headers=auth(token_read)
    )
    assert [d["status"] for d in log.json()["items"]] == ["failed"]
    assert log.json()["items"][0]["attempts"] == 2 < MAX_ATTEMPTS


async def test_redelivery_sends_again_under_the_same_id(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await client_token(
        client, context, scopes=["webhooks:manage", "alerts:read"], data_scope="112"
    )
    endpoint = await register_endpoint(client, token)
    await transferred_alert(client, context)
    receiver = Receiver()
    await deliver_webhooks(context, transport=httpx.MockTransport(receiver), resolver=public)
    endpoint_id = endpoint["endpoint"]["id"]
    log = await client.get(f"/v1/webhooks/endpoints/{endpoint_id}/deliveries", headers=auth(token))
    delivery_id = log.json()["items"][0]["id"]
    again = await client.post(
        f"/v1/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
        headers=auth(token),
    )
    assert again.status_code == 202, again.text
    await deliver_webhooks(context, transport=httpx.MockTransport(receiver), resolver=public)
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]


async def test_a_name_now_resolving_privately_gets_no_traffic(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await client_token(
        client, context, scopes=["webhooks:manage", "alerts:read"], data_scope="112"
    )
    await register_endpoint(client, token)
    async with context.sessions() as session:
        # A name that resolved publicly at registration and now points at the metadata service.
        await session.execute(update(WebhookEndpoint).values(url="https://hooks.example.org/x"))
        await session.commit()
    await transferred_alert(client, context)

    async def rebound(host: str, port: int) -> list[str]:
        return ["169.254.169.254"]

    receiver = Receiver()
    await deliver_webhooks(context, transport=httpx.MockTransport(receiver), resolver=rebound)
    assert receiver.requests == []
    async with context.sessions() as session:
        delivery = await session.scalar(select(WebhookDelivery))
        assert delivery is not None and delivery.last_error is not None
        assert delivery.last_error.startswith("refused")


async def test_registration_refuses_private_and_plain_http_targets(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await client_token(client, context, scopes=["webhooks:manage"], data_scope="112")
    for url in ("https://169.254.169.254/x", "https://10.0.0.1/x", "http://93.184.216.34/x"):
        response = await client.post(
            "/v1/webhooks/endpoints",
            json={"url": url, "event_types": ["alert.transferred"]},
            headers=auth(token),
        )
        assert response.status_code == 422, url
        assert response.json()["type"] == "/problems/webhook-target-refused"


def test_retries_span_about_three_days_with_jitter() -> None:
    from datetime import timedelta

    from app.integrations.outbound import backoff

    rng = random.Random(1)
    total = sum((backoff(n, rng) for n in range(1, MAX_ATTEMPTS)), timedelta())
    assert timedelta(days=2.2) < total < timedelta(days=3.5)
    waits = {backoff(3, random.Random(seed)) for seed in range(5)}
    assert len(waits) > 1  # jittered: queued retries do not all land on the same second

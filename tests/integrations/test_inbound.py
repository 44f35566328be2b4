"""Partner status in, and alerts from other channels: forged or replayed messages change
nothing; a channel's reference makes its alert idempotent."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from app.clock import FrozenClock
from app.context import AppContext
from app.identity.integrators import create_integrator
from app.ingestion.housekeeping import purge_expired
from app.integrations.partners import RECEIPT_MARGIN
from app.models import Alert, DispatchTask, InboundReceipt, OutboxEvent, PartnerStatus
from app.schemas.identity import IntegratorCredential
from tests.helpers import auth
from tests.integrations.test_webhooks import transferred_alert


async def make_client(context: AppContext, scopes: list[str]) -> IntegratorCredential:
    async with context.sessions() as session:
        credential = await create_integrator(
            session,
            name="Jakarta Siaga 112",
            scopes=scopes,
            now=context.clock.now(),
            keyring=context.keyring,
            data_scope="112",
        )
        await session.commit()
    return credential


def signed(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
        "content-type": "application/json",
    }


async def count_statuses(context: AppContext) -> int:
    async with context.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(PartnerStatus)) or 0)


async def test_signed_status_is_recorded_once_and_forgeries_change_nothing(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    credential = await make_client(context, ["partner_status:write"])
    assert credential.webhook_secret is not None
    alert_id = await transferred_alert(client, context)
    body = json.dumps({"alert_id": str(alert_id), "status": "accepted"})
    url = f"/v1/integrations/status-webhooks/{credential.client_id}"
    now = context.clock.now()

    forged = signed("whsec_" + "A" * 43, "msg_1", now, body)
    assert (await client.post(url, content=body, headers=forged)).status_code == 401
    stale = signed(credential.webhook_secret, "msg_1", now.replace(year=2025), body)
    assert (await client.post(url, content=body, headers=stale)).status_code == 401
    tampered = signed(credential.webhook_secret, "msg_1", now, body)
    assert (
        await client.post(url, content=body.replace("accepted", "closed"), headers=tampered)
    ).status_code == 401
    assert await count_statuses(context) == 0

    genuine = signed(credential.webhook_secret, "msg_1", now, body)
    first = await client.post(url, content=body, headers=genuine)
    assert first.status_code == 201, first.text
    replay = await client.post(url, content=body, headers=genuine)
    assert replay.status_code == 200 and replay.json() == {"duplicate": True}
    assert await count_statuses(context) == 1


async def receipts(context: AppContext) -> list[str]:
    async with context.sessions() as session:
        return sorted((await session.scalars(select(InboundReceipt.message_id))).all())


async def test_housekeeping_forgets_a_message_id_only_once_no_replay_could_pass(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    credential = await make_client(context, ["partner_status:write"])
    assert credential.webhook_secret is not None
    alert_id = await transferred_alert(client, context)
    url = f"/v1/integrations/status-webhooks/{credential.client_id}"
    tolerance = context.settings.integrations.inbound_tolerance_s
    body = json.dumps({"alert_id": str(alert_id), "status": "accepted"})
    # Stamped as far ahead as the window allows: a replay passes the timestamp check until
    # twice the window after the receipt.
    ahead = signed(
        credential.webhook_secret, "msg_1", clock.now() + timedelta(seconds=tolerance), body
    )
    assert (await client.post(url, content=body, headers=ahead)).status_code == 201

    clock.advance(2 * tolerance - 1)
    await purge_expired(context)
    replay = await client.post(url, content=body, headers=ahead)
    assert replay.status_code == 200 and replay.json() == {"duplicate": True}
    assert await receipts(context) == ["msg_1"]

    clock.advance(1 + RECEIPT_MARGIN.total_seconds() + 1)
    later = json.dumps({"alert_id": str(alert_id), "status": "dispatched"})
    fresh = signed(credential.webhook_secret, "msg_2", clock.now(), later)
    assert (await client.post(url, content=later, headers=fresh)).status_code == 201
    await purge_expired(context)
    assert await receipts(context) == ["msg_2"]  # msg_1 can no longer pass: forgotten
    assert (await client.post(url, content=body, headers=ahead)).status_code == 401  # stale
    assert await count_statuses(context) == 2


async def test_status_through_the_api_needs_the_alert_in_scope(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    credential = await make_client(context, ["partner_status:write"])
    token = (
        await client.post(
            "/v1/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(credential.client_id, credential.client_secret),
        )
    ).json()["access_token"]
    alert_id = await transferred_alert(client, context)
    rejected = await client.post(
        "/v1/integrations/status",
        json={"alert_id": str(alert_id), "status": "rejected"},
        headers=auth(token),
    )
    assert rejected.status_code == 422  # a rejection needs a reason
    ok = await client.post(
        "/v1/integrations/status",
        json={"alert_id": str(alert_id), "status": "dispatched", "external_ref": "112-42"},
        headers=auth(token),
    )
    assert ok.status_code == 201, ok.text
    unknown = await client.post(
        "/v1/integrations/status",
        json={"alert_id": str(alert_id), "status": "on_scene", "colour": "red"},
        headers=auth(token),
    )
    assert unknown.status_code == 422


async def test_channel_alert_is_idempotent_per_reference_and_strict(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    credential = await make_client(context, ["alerts:create"])
    token = (
        await client.post(
            "/v1/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(credential.client_id, credential.client_secret),
        )
    ).json()["access_token"]
    body = {
        "reference": "SAPA129-000123",
        "channel": "sapa129",
        "reported_at": context.clock.now().isoformat(),
        "reporter": "witness",
        "location": {"lat": -6.243556, "lon": 106.801278, "accuracy_m": 200},
    }
    first = await client.post(
        "/v1/integrations/alerts",
        json={**body, "contact": {"name": "Ibu R", "phone": "+62 811 0000 1111"}},
        headers=auth(token),
    )
    assert first.status_code == 201, first.text
    alert_id = uuid.UUID(first.json()["alert_id"])
    async with context.sessions() as session:
        # The same path as an app press: recorded, announced, queued for routing.
        assert await session.scalar(
            select(DispatchTask.id).where(DispatchTask.alert_id == alert_id)
        )
        kinds = set(
            await session.scalars(
                select(OutboxEvent.event_type).where(OutboxEvent.alert_id == alert_id)
            )
        )
        assert "alert.received" in kinds
        alert = await session.get(Alert, alert_id)
        assert alert is not None and alert.private_enc is not None
        assert b"Ibu R" not in alert.private_enc
    body["contact"] = {"name": "Ibu R", "phone": "+62 811 0000 1111"}
    again = await client.post("/v1/integrations/alerts", json=body, headers=auth(token))
    assert again.status_code == 200 and again.json()["alert_id"] == first.json()["alert_id"]
    other = await client.post(
        "/v1/integrations/alerts", json={**body, "reporter": "victim"}, headers=auth(token)
    )
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    extra = await client.post(
        "/v1/integrations/alerts",
        json={**body, "reference": "x2", "name": "A"},
        headers=auth(token),
    )
    assert extra.status_code == 422
    second = await client.post(
        "/v1/integrations/alerts", json={**body, "reference": "SAPA129-000124"}, headers=auth(token)
    )
    assert second.status_code == 201 and second.json()["alert_id"] != first.json()["alert_id"]

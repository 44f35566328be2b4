"""Webhook endpoints: an integrator registers where events go; each endpoint has its own
secret(s), a delivery log, and redelivery on request.

Secrets are kept encrypted (Sigap recomputes signatures with them). Rotating adds a new secret
and keeps the previous one signing for ``ROTATION_OVERLAP``, so the receiver can switch over
without losing a message: during the overlap every webhook carries both signatures.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import IntegratorPrincipal
from app.config import IntegrationSettings
from app.errors import Conflict, NotFound, ValidationFailed
from app.identity.integrators import new_webhook_secret
from app.integrations.ssrf import Resolver, parse_target, resolve_allowed
from app.models import IntegratorClient, WebhookDelivery, WebhookEndpoint
from app.pagination import Cursor
from app.schemas.integrations import (
    WebhookDeliveryRead,
    WebhookEndpointCreate,
    WebhookEndpointRead,
    WebhookSecret,
)
from app.security.fields import KeyRing

ROTATION_OVERLAP = timedelta(hours=24)
WEBHOOK_EVENTS = frozenset(
    {
        "alert.received",
        "alert.routed",
        "assignment.offered",
        "assignment.accepted",
        "assignment.declined",
        "assignment.expired",
        "alert.escalated",
        "alert.transferred",
        "alert.contacted",
        "alert.on_scene",
        "alert.handed_over",
        "alert.location_updated",
        "alert.resolved",
        "alert.cancelled",
        "alert.do_not_call_back",  # accepted for old subscriptions; no longer sent (profile.py)
        "alert.partner_status",
        "alert.handoff_unacknowledged",
    }
)
"""Alert events only: case files and the deployment's own operations never leave by webhook."""


def _aad(endpoint_id: uuid.UUID) -> str:
    return f"webhook_endpoint.secrets:{endpoint_id}"


def endpoint_secrets(endpoint: WebhookEndpoint, keyring: KeyRing, now: datetime) -> list[str]:
    """The secrets that sign right now, newest first."""
    stored: list[dict[str, Any]] = keyring.decrypt_json(endpoint.secrets_enc, aad=_aad(endpoint.id))
    return [
        s["secret"]
        for s in stored
        if s.get("until") is None or datetime.fromisoformat(s["until"]) > now
    ]


def _read(endpoint: WebhookEndpoint) -> WebhookEndpointRead:
    return WebhookEndpointRead(
        id=endpoint.id,
        url=endpoint.url,
        event_types=list(endpoint.event_types),
        created_at=endpoint.created_at,
        disabled_at=endpoint.disabled_at,
        disabled_reason=endpoint.disabled_reason,
    )


async def register_endpoint(
    session: AsyncSession,
    *,
    owner: IntegratorPrincipal,
    data: WebhookEndpointCreate,
    keyring: KeyRing,
    settings: IntegrationSettings,
    resolver: Resolver,
    now: datetime,
) -> WebhookSecret:
    unknown = sorted(set(data.event_types) - WEBHOOK_EVENTS)
    if unknown:
        raise ValidationFailed(
            f"Unknown event types: {', '.join(unknown)}.",
            extra={
                "errors": [
                    {"loc": ["body", "event_types"], "msg": f"allowed: {sorted(WEBHOOK_EVENTS)}"}
                ]
            },
        )
    client = await session.get(IntegratorClient, owner.client_id)
    if client is None:
        raise NotFound()
    target = parse_target(
        data.url,
        http_loopback=settings.webhook_http_loopback,
        loopback_ports=settings.webhook_http_loopback_ports,
    )
    await resolve_allowed(
        target,
        allowed_network=client.allowed_network,
        http_loopback=settings.webhook_http_loopback,
        resolver=resolver,
    )
    endpoint_id = uuid.uuid4()
    secret = new_webhook_secret()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        integrator_id=client.id,
        url=data.url,
        event_types=sorted(set(data.event_types)),
        secrets_enc=keyring.encrypt_json(
            [{"secret": secret, "until": None}], aad=_aad(endpoint_id)
        ),
        created_at=now,
    )
    session.add(endpoint)
    await session.flush()
    return WebhookSecret(endpoint=_read(endpoint), secret=secret)


async def own_endpoint(
    session: AsyncSession, owner: IntegratorPrincipal, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.integrator_id != owner.client_id:
        raise NotFound()  # another integrator's endpoint does not exist for this one
    return endpoint


async def list_endpoints(
    session: AsyncSession, *, owner: IntegratorPrincipal
) -> list[WebhookEndpointRead]:
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.integrator_id == owner.client_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return [_read(e) for e in rows]


async def rotate_secret(
    session: AsyncSession,
    *,
    owner: IntegratorPrincipal,
    endpoint_id: uuid.UUID,
    keyring: KeyRing,
    now: datetime,
) -> WebhookSecret:
    endpoint = await own_endpoint(session, owner, endpoint_id)
    current = endpoint_secrets(endpoint, keyring, now)
    secret = new_webhook_secret()
    until = (now + ROTATION_OVERLAP).isoformat()
    kept = [{"secret": s, "until": until} for s in current[:1]]
    endpoint.secrets_enc = keyring.encrypt_json(
        [{"secret": secret, "until": None}, *kept], aad=_aad(endpoint.id)
    )
    await session.flush()
    return WebhookSecret(endpoint=_read(endpoint), secret=secret)


async def disable_endpoint(
    session: AsyncSession, *, endpoint: WebhookEndpoint, reason: str, now: datetime
) -> WebhookEndpoint:
    """No further sends; what was still queued for it is cancelled (kept in the log)."""
    if endpoint.disabled_at is None:
        endpoint.disabled_at, endpoint.disabled_reason = now, reason
        await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.status.in_(("pending", "sending")),
            )
            .values(status="cancelled", claimed_until=None)
        )
        await session.flush()
    return endpoint


def delivery_read(delivery: WebhookDelivery) -> WebhookDeliveryRead:
    return WebhookDeliveryRead(
        id=delivery.id,
        webhook_id=webhook_id(delivery),
        event_type=delivery.event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.due_at if delivery.status == "pending" else None,
        last_status=delivery.last_status,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
    )


def webhook_id(delivery: WebhookDelivery) -> str:
    return f"msg_{delivery.id.hex}"


async def list_deliveries(
    session: AsyncSession,
    *,
    owner: IntegratorPrincipal,
    endpoint_id: uuid.UUID,
    limit: int,
    cursor: Cursor | None,
) -> tuple[list[WebhookDeliveryRead], Cursor | None]:
    await own_endpoint(session, owner, endpoint_id)
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.event_seq.desc())
    )
    if cursor is not None:
        query = query.where(WebhookDelivery.event_seq < int(cursor.value))
    rows = list(await session.scalars(query.limit(limit + 1)))
    page = rows[:limit]
    following = Cursor(str(page[-1].event_seq)) if len(rows) > limit else None
    return [delivery_read(d) for d in page], following


async def redeliver(
    session: AsyncSession,
    *,
    owner: IntegratorPrincipal,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
    now: datetime,
) -> WebhookDeliveryRead:
    """Send it again now, under the same ``webhook-id`` (the receiver may drop a repeat)."""
    endpoint = await own_endpoint(session, owner, endpoint_id)
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound()
    if endpoint.disabled_at is not None:
        raise Conflict("The endpoint is disabled; register it again to receive webhooks.")
    if delivery.status != "sending":
        delivery.status, delivery.due_at, delivery.claimed_until = "pending", now, None
        await session.flush()
    return delivery_read(delivery)

"""Outbound webhooks: from the stream to integrators' endpoints, signed per Standard Webhooks.

1. **Fan out**, one short transaction: read stream events after the cursor (in ``seq`` order,
   which is commit order), and queue one delivery per endpoint that subscribes to the event and
   whose integrator may see the alert (``app.integrations.scope``; its scope ``alerts:read`` or
   ``exports:read``); advance the cursor. The cursor row is locked, so two workers never fan
   out the same events, and (endpoint, seq) is unique, so nothing is queued twice.
2. **Claim** due deliveries (``SKIP LOCKED`` on PostgreSQL) with a lease, and commit.
3. **Send** with no transaction and no connection held: resolve the host once, refuse any
   non-public address (``ssrf``), connect to that address, no redirects, tight timeouts.
4. **Record** the outcome where the lease is still ours: 2xx delivered; 410 disables the
   endpoint; anything else is retried with exponential back-off and jitter for about 3 days.

Payloads are thin (SR-21): the event type, its ids and links to fetch details through the
authorized, audited API. A delivery's id is its ``webhook-id`` on every attempt, so receivers
de-duplicate what at-least-once delivery may repeat.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from app.config import IntegrationSettings
from app.integrations.scope import ClientScope, ScopeFacts, scope_facts
from app.integrations.ssrf import (
    Resolver,
    parse_target,
    pinned_request,
    resolve_allowed,
    system_resolver,
)
from app.integrations.webhooks import disable_endpoint, endpoint_secrets, webhook_id
from app.loops import WEBHOOK_POLL_S, beat, note_error
from app.models import (
    Alert,
    IntegratorClient,
    OutboxEvent,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.policy.integrators import integrator_event
from app.policy.profile import pseudonymous_event
from app.security.fields import KeyRing
from app.upsert import dialect_insert
from app.waiting import woken

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger("sigap.webhooks")
CURSOR = "webhooks"
LEASE = timedelta(seconds=60)
BACKOFF_BASE_S = 5.0
BACKOFF_FACTOR = 4.0
BACKOFF_CAP_S = 12 * 3600.0
MAX_ATTEMPTS = 13
"""5 s, 20 s, 80 s, … capped at 12 h: the 13th attempt comes about 3 days after the first."""
READ_SCOPES = frozenset({"alerts:read", "exports:read"})
THIN_KEYS = ("alert_id", "assignment_id", "case_id", "to", "status")


def backoff(attempts: int, rng: random.Random) -> timedelta:
    """The wait after the ``attempts``-th failure: exponential, capped, ±20 % jitter so a
    recovering receiver is not hit by every queued delivery at the same second."""
    base = min(BACKOFF_CAP_S, BACKOFF_BASE_S * BACKOFF_FACTOR ** max(0, attempts - 1))
    return timedelta(seconds=base * rng.uniform(0.8, 1.2))


def thin_payload(event: OutboxEvent, event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Ids and links only, of the event as the policy tells it to the receiving integrator
    (``event_type``, ``payload``: ``app.policy.integrators.integrator_event``)."""
    data = {k: payload[k] for k in THIN_KEYS if payload.get(k) is not None}
    alert_id = data.get("alert_id")
    links = {"incident": f"/v1/exports/alerts/{alert_id}/eido"} if alert_id else {}
    return {
        "type": event_type,
        "timestamp": event.created_at.isoformat(),
        "data": {**data, "seq": event.seq, "links": links},
    }


async def _lock_cursor(session: AsyncSession) -> WebhookCursor | None:
    query = select(WebhookCursor).where(WebhookCursor.name == CURSOR)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    cursor: WebhookCursor | None = await session.scalar(query)
    return cursor


async def fan_out(session: AsyncSession, *, batch: int, now: datetime) -> int:
    """Queue deliveries for the next events; returns how many events were read."""
    cursor = await _lock_cursor(session)
    if cursor is None:
        await session.execute(
            dialect_insert(session, WebhookCursor)
            .values(name=CURSOR, last_seq=0)
            .on_conflict_do_nothing()
        )
        cursor = await _lock_cursor(session)
    if cursor is None:
        return 0  # another worker is fanning out right now; it reads the same events
    events = list(
        await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.seq.is_not(None), OutboxEvent.seq > cursor.last_seq)
            .order_by(OutboxEvent.seq)
            .limit(batch)
        )
    )
    if not events:
        return 0
    endpoints = (
        await session.execute(
            select(WebhookEndpoint, IntegratorClient)
            .join(IntegratorClient, IntegratorClient.id == WebhookEndpoint.integrator_id)
            .where(WebhookEndpoint.disabled_at.is_(None), IntegratorClient.disabled_at.is_(None))
        )
    ).all()
    facts: dict[tuple[uuid.UUID, ClientScope], ScopeFacts | None] = {}
    for event in events:
        if event.alert_id is None:
            continue
        # Integrators are pseudonymous: they subscribe to, and get, the event as the policy
        # tells it to them (a duress cancel reaches them in no form at all).
        told, _ = pseudonymous_event(event.event_type, event.payload)
        for endpoint, client in endpoints:
            if told not in endpoint.event_types or event.created_at < endpoint.created_at:
                continue
            if not READ_SCOPES & set(client.scopes):
                continue
            scope = ClientScope(data_scope=client.data_scope, unit_code=client.unit_code)
            key = (event.alert_id, scope)
            if key not in facts:
                alert = await session.get(Alert, event.alert_id)
                facts[key] = None if alert is None else await scope_facts(session, alert, scope)
            known = facts[key]
            # The stream's rule, judged at the event's own time: a batch read after the alert
            # entered the client's scope must not carry the events from before it.
            message = (
                None
                if known is None
                else integrator_event(
                    READ_SCOPES,
                    scope,
                    event.event_type,
                    event.payload,
                    at=event.created_at,
                    facts=known,
                )
            )
            if message is None:
                continue
            await session.execute(
                dialect_insert(session, WebhookDelivery)
                .values(
                    id=uuid.uuid4(),
                    endpoint_id=endpoint.id,
                    event_seq=event.seq,
                    event_type=message[0],
                    payload=thin_payload(event, *message),
                    status="pending",
                    attempts=0,
                    due_at=now,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["endpoint_id", "event_seq"])
            )
    last = events[-1].seq
    assert last is not None
    cursor.last_seq = last
    return len(events)


@dataclass(frozen=True)
class Claimed:
    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    webhook_id: str
    url: str
    allowed_network: str | None
    secrets: tuple[str, ...]
    body: str
    attempts: int
    lease: datetime


@dataclass(frozen=True)
class Sent:
    status: int | None
    error: str | None


async def claim(
    session: AsyncSession, *, keyring: KeyRing, batch: int, now: datetime
) -> list[Claimed]:
    query = (
        select(WebhookDelivery, WebhookEndpoint, IntegratorClient)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(IntegratorClient, IntegratorClient.id == WebhookEndpoint.integrator_id)
        .where(
            WebhookDelivery.due_at <= now,
            or_(
                WebhookDelivery.status == "pending",
                and_(WebhookDelivery.status == "sending", WebhookDelivery.claimed_until <= now),
            ),
        )
        .order_by(WebhookDelivery.due_at, WebhookDelivery.event_seq)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
    lease = now + LEASE
    claimed: list[Claimed] = []
    for delivery, endpoint, client in (await session.execute(query)).all():
        if endpoint.disabled_at is not None or client.disabled_at is not None:
            delivery.status = "cancelled"
            continue
        delivery.status, delivery.claimed_until, delivery.due_at = "sending", lease, lease
        delivery.attempts += 1
        claimed.append(
            Claimed(
                delivery_id=delivery.id,
                endpoint_id=endpoint.id,
                webhook_id=webhook_id(delivery),
                url=endpoint.url,
                allowed_network=client.allowed_network,
                secrets=tuple(endpoint_secrets(endpoint, keyring, now)),
                body=json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True),
                attempts=delivery.attempts,
                lease=lease,
            )
        )
    await session.flush()
    return claimed


def signed_headers(claimed: Claimed, now: datetime) -> dict[str, str]:
    """Standard Webhooks headers; one ``v1,`` signature per current secret (rotation)."""
    signatures = " ".join(
        Webhook(secret).sign(claimed.webhook_id, now, claimed.body) for secret in claimed.secrets
    )
    return {
        "webhook-id": claimed.webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": "Sigap-Webhooks/1",
    }


async def send_one(
    http: httpx.AsyncClient,
    claimed: Claimed,
    *,
    settings: IntegrationSettings,
    resolver: Resolver,
    now: datetime,
) -> Sent:
    from app.errors import WebhookTargetRefused

    try:
        target = parse_target(
            claimed.url,
            http_loopback=settings.webhook_http_loopback,
            loopback_ports=settings.webhook_http_loopback_ports,
        )
        address = await resolve_allowed(
            target,
            allowed_network=claimed.allowed_network,
            http_loopback=settings.webhook_http_loopback,
            resolver=resolver,
        )
    except WebhookTargetRefused as exc:
        return Sent(status=None, error=f"refused: {exc.detail}"[:300])
    request = pinned_request(
        target, address, headers=signed_headers(claimed, now), content=claimed.body.encode()
    )
    try:
        response = await http.send(request, follow_redirects=False)
        await response.aclose()
    except httpx.HTTPError as exc:
        return Sent(status=None, error=f"{type(exc).__name__}: {exc}"[:300])
    return Sent(status=response.status_code, error=None)


async def record(
    session: AsyncSession,
    claimed: list[Claimed],
    outcomes: list[Sent],
    *,
    rng: random.Random,
    now: datetime,
) -> None:
    for item, outcome in zip(claimed, outcomes, strict=True):
        delivery = await session.get(WebhookDelivery, item.delivery_id, with_for_update=True)
        if delivery is None or delivery.status != "sending" or delivery.claimed_until != item.lease:
            continue  # our lease ran out and another sender took it over
        delivery.last_status, delivery.last_error, delivery.claimed_until = (
            outcome.status,
            outcome.error,
            None,
        )
        if outcome.status is not None and 200 <= outcome.status < 300:
            delivery.status, delivery.delivered_at = "delivered", now
        elif outcome.status == 410:
            endpoint = await session.get(WebhookEndpoint, item.endpoint_id)
            delivery.status = "failed"
            if endpoint is not None:
                await disable_endpoint(
                    session, endpoint=endpoint, reason="the receiver answered 410 Gone", now=now
                )
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = "failed"
        else:
            delivery.status, delivery.due_at = "pending", now + backoff(delivery.attempts, rng)
    await session.flush()


_RNG = random.Random()  # noqa: S311 - jitter, not a secret


async def deliver_webhooks(
    context: AppContext,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver = system_resolver,
    rng: random.Random = _RNG,
) -> int:
    """One cycle: fan out, claim, send, record. Returns how many sends succeeded."""
    settings = context.settings.integrations
    now = context.clock.now()
    # One short transaction for both (on SQLite each is a write lock, taken every second).
    async with context.sessions() as session, session.begin():
        await fan_out(session, batch=settings.webhook_batch_size * 4, now=now)
        claimed = await claim(
            session, keyring=context.keyring, batch=settings.webhook_batch_size, now=now
        )
    if not claimed:
        return 0
    timeout = httpx.Timeout(settings.webhook_timeout_s, connect=settings.webhook_connect_timeout_s)
    limit = asyncio.Semaphore(settings.webhook_concurrency)
    async with httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False) as http:

        async def bounded(item: Claimed) -> Sent:
            async with limit:
                return await send_one(
                    http, item, settings=settings, resolver=resolver, now=context.clock.now()
                )

        outcomes = list(await asyncio.gather(*(bounded(item) for item in claimed)))
    async with context.sessions() as session, session.begin():
        await record(session, claimed, outcomes, rng=rng, now=context.clock.now())
    delivered = sum(1 for o in outcomes if o.status is not None and 200 <= o.status < 300)
    log.info("webhooks: %d sent, %d delivered", len(claimed), delivered)
    return delivered


LOOP_NAME = "webhooks"
FALLBACK_POLL_S = WEBHOOK_POLL_S
COALESCE_S = 0.5
"""After a wake-up, how long the loop lets more events arrive before one fan-out for them all:
integrators fetch details anyway, and one cycle per relay batch would cost a few statements per
alert in a burst."""


async def run_webhooks(context: AppContext) -> None:
    """Forever: deliver what is due, then sleep until events are numbered (the relay, or another
    process's announcement), the next retry falls due, or the fallback poll: an idle deployment
    costs nothing here."""
    wake = context.webhook_wakeup
    context.loop_heartbeats.setdefault(LOOP_NAME, time.monotonic())
    while True:
        wake.clear()  # before the cycle: events numbered during it wake the next wait
        pause = FALLBACK_POLL_S
        try:
            await deliver_webhooks(context)
            beat(context, LOOP_NAME)
            due = await next_delivery_in(context)
            if due is not None:
                pause = min(pause, due)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            note_error(context, LOOP_NAME, exc)
            log.exception("webhook cycle failed; retrying")
            pause = 5.0
        if await woken(wake, pause):
            await asyncio.sleep(COALESCE_S)


async def next_delivery_in(context: AppContext) -> float | None:
    """Seconds until the next pending delivery (or expired claim) is due; None when none is."""
    async with context.sessions() as session:
        due = await session.scalar(
            select(func.min(WebhookDelivery.due_at)).where(
                WebhookDelivery.status.in_(("pending", "sending"))
            )
        )
    if due is None:
        return None
    return max(0.0, (due - context.clock.now()).total_seconds())

"""Reaching people who are not watching a screen: the on-call counselor at night, the supervisor.

Messages are rows queued in the transaction of the change they announce (never sent before it
commits), then delivered at least once by ``deliver_due`` through the configured providers. Each
row has a stable id and a de-duplication key, so a provider can drop repeats. Limits: a few
messages per alert and person per window (a phone must not be flooded) and a daily spending cap.
Texts carry the case code and what to do, never a victim's identity (UU SPPA Art. 19, UU PDP).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import DispatchSettings
from app.models import Notification, Shift, StaffUser, Unit
from app.upsert import dialect_insert

log = logging.getLogger("sigap.notify")
_MAX_ATTEMPTS = 5
CRITICAL_KINDS = frozenset({"escalation", "transfer", "sla_breached"})
"""Never held back by the per-alert limit: a supervisor must hear of every escalation, the
112 hand-off and every breach (the daily spending cap still applies)."""


@dataclass(frozen=True)
class OutboundMessage:
    id: uuid.UUID
    recipient_id: uuid.UUID
    recipient_username: str
    recipient_phone: str | None
    kind: str
    text: str


class NotificationProvider(Protocol):
    """SMS, WhatsApp, push or voice. ``send`` raises on failure; the message is retried."""

    name: str

    async def send(self, message: OutboundMessage) -> None: ...


class LogProvider:
    """The default: writes the message to the log (texts hold no personal data)."""

    name = "log"

    async def send(self, message: OutboundMessage) -> None:
        log.info(
            "notify %s -> %s [%s]: %s",
            message.id,
            message.recipient_username,
            message.kind,
            message.text,
        )


@dataclass
class RecordingProvider:
    """Keeps what it was asked to send (tests, and a dry run of a new deployment)."""

    name: str = "recording"
    sent: list[OutboundMessage] = field(default_factory=list)

    async def send(self, message: OutboundMessage) -> None:
        self.sent.append(message)


class HttpGatewayProvider:
    """An SMS/WhatsApp/voice gateway behind one HTTPS endpoint: POSTs
    ``{"id", "to", "kind", "text"}`` with a bearer token; any 2xx is success. ``id`` is stable
    across retries, so the gateway can drop a repeat."""

    name = "http"

    def __init__(
        self, url: str, token: str, *, timeout_s: float, transport: httpx.AsyncBaseTransport | None
    ) -> None:
        self._url, self._token = url, token
        self._client = httpx.AsyncClient(timeout=timeout_s, transport=transport)

    async def send(self, message: OutboundMessage) -> None:
        if not message.recipient_phone:
            raise LookupError(f"{message.recipient_username} has no phone number")
        response = await self._client.post(
            self._url,
            json={
                "id": str(message.id),
                "to": message.recipient_phone,
                "kind": message.kind,
                "text": message.text,
            },
            headers={"Authorization": f"Bearer {self._token}"} if self._token else {},
        )
        if not response.is_success:
            raise RuntimeError(f"gateway answered {response.status_code}")


def build_providers(
    settings: DispatchSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> list[NotificationProvider]:
    """The providers named in ``notify_providers``, tried in that order for each message."""
    providers: list[NotificationProvider] = []
    for name in settings.notify_providers:
        if name == "log":
            providers.append(LogProvider())
        elif name == "http":
            if not settings.notify_http_url:
                raise ValueError("the http notification provider needs notify_http_url")
            providers.append(
                HttpGatewayProvider(
                    settings.notify_http_url,
                    settings.notify_http_token.get_secret_value(),
                    timeout_s=settings.notify_http_timeout_s,
                    transport=transport,
                )
            )
        else:
            raise ValueError(f"unknown notification provider: {name}")
    return providers


@dataclass(frozen=True)
class Message:
    """One message to queue for some people about an alert (``ref`` de-duplicates it)."""

    recipients: tuple[uuid.UUID, ...]
    kind: str
    text: str
    alert_id: uuid.UUID | None
    ref: str


async def queue(
    session: AsyncSession,
    *,
    recipients: list[uuid.UUID],
    kind: str,
    text: str,
    alert_id: uuid.UUID | None,
    ref: str,
    now: datetime,
    settings: DispatchSettings,
) -> None:
    """Queue one message per recipient; over the per-alert limit it is kept as ``suppressed``."""
    await queue_many(
        session,
        [Message(tuple(recipients), kind, text, alert_id, ref)],
        now=now,
        settings=settings,
    )


async def queue_many(
    session: AsyncSession, messages: list[Message], *, now: datetime, settings: DispatchSettings
) -> None:
    """Queue many messages with one count and one insert (the SLA monitor's bursts)."""
    wanted = [(m, person) for m in messages for person in dict.fromkeys(m.recipients)]
    if not wanted:
        return
    alert_ids = {m.alert_id for m, _ in wanted if m.alert_id is not None}
    recent: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    if alert_ids:
        counted = await session.execute(
            select(Notification.alert_id, Notification.recipient_id, func.count())
            .where(
                Notification.alert_id.in_(alert_ids),
                Notification.recipient_id.in_({person for _, person in wanted}),
                Notification.status != "suppressed",
                Notification.created_at > now - timedelta(seconds=settings.notify_window_s),
            )
            .group_by(Notification.alert_id, Notification.recipient_id)
        )
        recent = {(a, r): int(n) for a, r, n in counted.all() if a is not None}
    rows = []
    for message, person in wanted:
        key = (message.alert_id, person) if message.alert_id is not None else None
        sent = recent.get(key, 0) if key else 0
        if key:
            recent[key] = sent + 1
        rows.append(
            {
                "id": uuid.uuid4(),
                "dedupe_key": f"{message.kind}:{message.alert_id}:{message.ref}:{person}",
                "alert_id": message.alert_id,
                "recipient_id": person,
                "kind": message.kind,
                "text": message.text,
                "status": "suppressed"
                if sent >= settings.notify_per_alert_person and message.kind not in CRITICAL_KINDS
                else "queued",
                "created_at": now,
                "due_at": now,
                "attempts": 0,
            }
        )
    # One statement object per dialect, executed with many rows: compiled once, cached.
    await session.execute(_insert_ignoring_duplicates(session), rows)


_INSERTS: dict[str, Any] = {}


def _insert_ignoring_duplicates(session: AsyncSession) -> Any:
    name = session.get_bind().dialect.name
    if name not in _INSERTS:
        _INSERTS[name] = dialect_insert(session, Notification).on_conflict_do_nothing(
            index_elements=["dedupe_key"]
        )
    return _INSERTS[name]


async def supervisors_on_duty(
    session: AsyncSession, *, region_code: str, central_code: str, at: datetime
) -> list[uuid.UUID]:
    """Supervisors rostered at the central desk now; if none is rostered, every supervisor, so
    an escalation always reaches someone."""
    rostered = (
        await session.scalars(
            select(StaffUser.id)
            .join(Shift, Shift.staff_id == StaffUser.id)
            .join(Unit, Unit.id == Shift.unit_id)
            .where(
                StaffUser.role == "supervisor",
                StaffUser.disabled_at.is_(None),
                Unit.code == central_code,
                Shift.starts_at <= at,
                Shift.ends_at > at,
            )
        )
    ).all()
    if rostered:
        return list(dict.fromkeys(rostered))
    return list(
        (
            await session.scalars(
                select(StaffUser.id)
                .where(StaffUser.role == "supervisor", StaffUser.disabled_at.is_(None))
                .order_by(StaffUser.username)
            )
        ).all()
    )


async def deliver_due(
    session: AsyncSession,
    *,
    providers: list[NotificationProvider],
    settings: DispatchSettings,
    now: datetime,
    limit: int = 50,
) -> int:
    """Send queued messages that are due; the caller commits. Returns how many were sent."""
    query = (
        select(Notification, StaffUser.username, StaffUser.phone)
        .join(StaffUser, StaffUser.id == Notification.recipient_id)
        .where(Notification.status == "queued", Notification.due_at <= now)
        .order_by(Notification.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Notification)
    rows = (await session.execute(query)).all()
    if not rows:
        return 0
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    sent_today = (
        await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.status == "sent", Notification.sent_at >= day_start)
        )
        or 0
    )
    sent = 0
    for notification, username, phone in rows:
        if sent_today >= settings.notify_daily_cap:
            notification.status = "suppressed"
            notification.last_error = "daily spending cap reached"
            continue
        message = OutboundMessage(
            id=notification.id,
            recipient_id=notification.recipient_id,
            recipient_username=username,
            recipient_phone=phone,
            kind=notification.kind,
            text=notification.text,
        )
        notification.attempts += 1
        for provider in providers:
            try:
                await provider.send(message)
            except Exception as exc:  # a provider's failure must not stop the others
                notification.last_error = f"{provider.name}: {exc}"[:300]
                log.warning(
                    "notification %s via %s failed: %s", notification.id, provider.name, exc
                )
                continue
            notification.status, notification.channel = "sent", provider.name
            notification.sent_at = now
            sent += 1
            sent_today += 1
            break
        else:
            if notification.attempts >= _MAX_ATTEMPTS:
                notification.status = "failed"
            else:
                notification.due_at = now + timedelta(seconds=5 * 2**notification.attempts)
    return sent

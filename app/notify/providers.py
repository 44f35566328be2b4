"""Where messages go: the providers (log, an HTTP gateway for SMS/WhatsApp/voice, a recorder for
tests), tried in order for each message until one succeeds. A provider is only ever called with no
transaction or pooled connection held (``delivery.py``), so a slow gateway delays nobody else.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from app.config import DispatchSettings

log = logging.getLogger("sigap.notify")


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


LOGGED = "log"
"""The provider name of a message that only reached the server's log: counted as ``logged``,
never ``sent`` (``sigap_notifications_total``), for nobody was reached by it."""


class LogProvider:
    """The default: writes the message to the server's log (texts hold no personal data), at
    WARNING: a message meant for a person that reaches only the log is something an operator
    must see whatever the log level, until a gateway is configured."""

    name = LOGGED

    async def send(self, message: OutboundMessage) -> None:
        log.warning(
            "notify (log only) %s -> %s [%s]: %s",
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

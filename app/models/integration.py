"""Integrations: outbound webhook endpoints and their deliveries, inbound partner status, and
alerts created by other channels (112 call-takers, SAPA 129)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType


class WebhookEndpoint(Base):
    """Where an integrator wants events pushed, signed with the endpoint's own secret(s)."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    integrator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("integrator_client.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSONType)
    secrets_enc: Mapped[bytes] = mapped_column(LargeBinary)
    """AEAD-encrypted list of secrets, newest first: every one signs while a rotation is on."""
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(200))


class WebhookCursor(Base):
    """How far the fan-out has read the stream (one row: ``name = 'webhooks'``)."""

    __tablename__ = "webhook_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class WebhookDelivery(Base):
    """One event for one endpoint; its id is the ``webhook-id`` on every attempt."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_seq"),
        Index("ix_webhook_delivery_status_due_at", "status", "due_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoint.id"), index=True)
    event_seq: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """Thin: the event type, ids and when; details are fetched through the API."""
    status: Mapped[str] = mapped_column(String(16))
    """pending | sending | delivered | failed (gave up) | cancelled (endpoint disabled)"""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class InboundReceipt(Base):
    """A ``webhook-id`` already accepted from an integrator: a replay changes nothing."""

    __tablename__ = "inbound_receipt"

    integrator_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integrator_client.id"), primary_key=True
    )
    message_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


class PartnerStatus(Base):
    """A responder outside Sigap reporting progress on an alert (ASAP-like vocabulary)."""

    __tablename__ = "partner_status"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert.id"), index=True)
    integrator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("integrator_client.id"))
    status: Mapped[str] = mapped_column(String(20))
    """accepted | rejected | dispatched | on_scene | closed | info_requested"""
    reason: Mapped[str | None] = mapped_column(String(300))
    disposition: Mapped[str | None] = mapped_column(String(40))
    external_ref: Mapped[str | None] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(8))
    """api | webhook"""
    reported_at: Mapped[datetime]
    created_at: Mapped[datetime]


class ChannelAlert(Base):
    """An alert another channel created for a caller, keyed by that channel's own reference."""

    __tablename__ = "channel_alert"

    integrator_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integrator_client.id"), primary_key=True
    )
    reference: Mapped[str] = mapped_column(String(120), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    """112 | sapa129 | other"""
    request_hash: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("device.id"))
    """The caller's stand-in device: joining and idempotency work as for an app press."""
    alert_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("alert.id"), index=True)
    created_at: Mapped[datetime]

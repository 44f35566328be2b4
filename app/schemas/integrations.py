"""Integrator-facing schemas: webhook endpoints and deliveries, partner status, channel alerts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import StrictInput


class WebhookEndpointCreate(StrictInput):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "url": "https://siaga112.jakarta.go.id/hooks/sigap",
                    "event_types": ["alert.transferred", "alert.resolved"],
                }
            ]
        },
    )
    url: str = Field(..., min_length=8, max_length=2000, description="https:// on port 443")
    event_types: list[str] = Field(..., min_length=1, max_length=32)


class WebhookEndpointRead(BaseModel):
    id: uuid.UUID
    url: str
    event_types: list[str]
    created_at: datetime
    disabled_at: datetime | None = Field(description="Set when it answered 410 or was removed")
    disabled_reason: str | None


class WebhookSecret(BaseModel):
    endpoint: WebhookEndpointRead
    secret: str = Field(description="The Standard Webhooks secret (whsec_…); shown once")


class WebhookDeliveryRead(BaseModel):
    id: uuid.UUID
    webhook_id: str = Field(description="The `webhook-id` header: the same on every attempt")
    event_type: str
    status: Literal["pending", "sending", "delivered", "failed", "cancelled"]
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None = Field(description="The HTTP status of the last attempt")
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


PartnerStatusValue = Literal[
    "accepted", "rejected", "dispatched", "on_scene", "closed", "info_requested"
]


class PartnerStatusCreate(StrictInput):
    """ASAP-like status from a responder outside Sigap."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "alert_id": "0b9f3a52-4c1e-4d8e-9a77-3f2d1c5e8a10",
                    "status": "dispatched",
                    "external_ref": "112-2026-0042",
                },
                {
                    "alert_id": "0b9f3a52-4c1e-4d8e-9a77-3f2d1c5e8a10",
                    "status": "rejected",
                    "reason": "outside our area",
                },
                {
                    "alert_id": "0b9f3a52-4c1e-4d8e-9a77-3f2d1c5e8a10",
                    "status": "closed",
                    "disposition": "assisted",
                },
            ]
        },
    )
    alert_id: uuid.UUID
    status: PartnerStatusValue
    reason: str | None = Field(None, max_length=300, description="Required when rejected")
    disposition: str | None = Field(
        None, max_length=40, description="Required when closed (e.g. assisted, no_contact)"
    )
    external_ref: str | None = Field(None, max_length=120, description="Your incident number")
    reported_at: datetime | None = Field(None, description="When it happened on your side")


class PartnerStatusRead(BaseModel):
    id: uuid.UUID
    alert_id: uuid.UUID
    status: PartnerStatusValue
    reason: str | None
    disposition: str | None
    external_ref: str | None
    source: Literal["api", "webhook"]
    reported_at: datetime
    created_at: datetime
    duplicate: bool = Field(False, description="True when this webhook-id was already accepted")


class DuplicateRead(BaseModel):
    duplicate: Literal[True] = Field(description="This webhook-id was already accepted")


class ChannelLocation(StrictInput):
    lat: float = Field(..., ge=-90, le=90)
    lon: float = Field(..., ge=-180, le=180)
    accuracy_m: float = Field(..., gt=0, le=50_000, description="Radius of uncertainty")
    fix_at: datetime | None = None
    source: Literal["gps", "network", "caller", "cell"] = "caller"


class ChannelContact(StrictInput):
    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=32, pattern=r"^\+?[0-9 ()-]{3,32}$")


class ChannelAlertCreate(StrictInput):
    """An alert created on a caller's behalf (112 call-taker, SAPA 129): strictly validated."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "reference": "SAPA129-2026-11-000123",
                    "channel": "sapa129",
                    "reported_at": "2026-11-23T03:00:00Z",
                    "reporter": "victim",
                    "location": {"lat": -6.2436, "lon": 106.8013, "accuracy_m": 300},
                    "victim_is_child": False,
                }
            ]
        },
    )
    reference: str = Field(..., min_length=1, max_length=120, description="Your own id")
    channel: Literal["112", "sapa129", "other"]
    reported_at: datetime = Field(description="When the caller called (with a time zone)")
    reporter: Literal["victim", "witness", "unknown"] = "unknown"
    location: ChannelLocation | None = None
    victim_is_child: bool | None = None
    silent: bool = Field(True, description="Do not call the victim back openly")
    transit_operator: Literal["transjakarta", "mrt", "lrt"] | None = None
    contact: ChannelContact | None = Field(
        None, description="How to reach the caller (encrypted at rest, shown to entitled staff)"
    )
    message: str | None = Field(
        None, max_length=2000, description="The call-taker's summary (encrypted at rest)"
    )


class ChannelAlertRead(BaseModel):
    alert_id: uuid.UUID
    case_code: str
    reference: str
    channel: str
    status: str
    created: bool = Field(description="False when the reference was already recorded")

"""Device, staff, integrator and token schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.schemas.common import StrictInput

Role = Literal["counselor", "paralegal", "transit_staff", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("counselor", "paralegal", "transit_staff", "supervisor", "admin")
PinStr = str


class DeviceContact(StrictInput):
    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)


class DeviceCreate(StrictInput):
    platform: Literal["android", "ios", "web", "other"] | None = None
    app_version: str | None = Field(None, max_length=32)
    contact: DeviceContact | None = Field(None, description="Optional; stored encrypted")


class DeviceCredential(BaseModel):
    device_id: uuid.UUID
    credential: str = Field(description="Shown once. Send as `Authorization: Bearer <credential>`.")
    created_at: datetime


class DeviceRead(BaseModel):
    device_id: uuid.UUID
    created_at: datetime
    cancel_pin_set: bool
    cancel_paused_until: datetime | None


class PinsUpdate(StrictInput):
    current_pin: str | None = Field(None, max_length=32, description="Required once a PIN is set")
    cancel_pin: str = Field(..., pattern=r"^\d{4,12}$")
    duress_pin: str | None = Field(None, pattern=r"^\d{4,12}$")


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name
    expires_in: int
    refresh_token: str | None = None
    scope: str | None = None
    device_token: str | None = Field(
        None,
        description=(
            "After a `password` grant: this device's token (OWASP device cookie). Keep it and "
            "send it with the next password sign-in (header `X-Sigap-Device` or form field "
            "`device_token`): failed sign-ins elsewhere then never keep this device out."
        ),
    )


class OAuthError(BaseModel):
    error: Literal[
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "slow_down",  # 429, throttled (RFC 8628's registered code; see app.identity.tokens)
    ]
    error_description: str | None = None


class UserCreate(StrictInput):
    username: str = Field(..., pattern=r"^[a-z0-9._-]{3,64}$")
    password: str = Field(..., min_length=12, max_length=256)
    role: Role
    unit_code: str | None = Field(None, max_length=40)
    display_name: str | None = Field(None, max_length=120)
    sex: Literal["female", "male"] | None = None
    phone: str | None = Field(
        None,
        pattern=r"^\+?[0-9][0-9 -]{6,22}$",
        description="For notifications (SMS, WhatsApp, voice) when not watching the console",
    )


class UserUpdate(StrictInput):
    role: Role | None = None
    unit_code: str | None = Field(None, max_length=40)
    display_name: str | None = Field(None, max_length=120)
    sex: Literal["female", "male"] | None = None
    phone: str | None = Field(
        None,
        pattern=r"^\+?[0-9][0-9 -]{6,22}$",
        description="For notifications (SMS, WhatsApp, voice) when not watching the console",
    )
    disabled: bool | None = None


class PasswordReset(StrictInput):
    password: str = Field(..., min_length=12, max_length=256)


class UserRead(BaseModel):
    id: uuid.UUID
    username: str
    role: Role
    unit_code: str | None
    display_name: str | None
    sex: str | None
    phone: str | None
    created_at: datetime
    disabled: bool


class IntegratorCreate(StrictInput):
    name: str = Field(..., min_length=2, max_length=120)
    scopes: list[str] = Field(..., min_length=1)
    data_scope: Literal["none", "transit", "police", "112"] = Field(
        "none",
        description="Which alerts it may see: `transit` those offered to its operator "
        "(`unit_code`), `police` those handed over to police, `112` those transferred to "
        "Jakarta Siaga 112, `none` no alert",
    )
    unit_code: str | None = Field(
        None, max_length=40, description="The operator of a transit client: transjakarta, mrt, lrt"
    )
    allowed_network: str | None = Field(
        None,
        max_length=64,
        description="A private range (CIDR) its webhooks may reach: a government intranet or "
        "VPN (police, 112) only",
    )


class IntegratorCredential(BaseModel):
    client_id: str
    client_secret: str = Field(description="Shown once")
    webhook_secret: str | None = Field(
        None, description="Standard Webhooks secret (whsec_…) to sign status pushes; shown once"
    )
    name: str
    scopes: list[str]
    data_scope: str = "none"
    unit_code: str | None = None


class IntegratorRead(BaseModel):
    client_id: str
    name: str
    scopes: list[str]
    data_scope: str
    unit_code: str | None
    created_at: datetime
    secret_rotated_at: datetime | None
    revoked_at: datetime | None


class PrincipalRead(BaseModel):
    kind: Literal["staff", "integrator"]
    id: uuid.UUID
    name: str
    role: Role | None = None
    unit_code: str | None = None
    scopes: list[str] = Field(default_factory=list)


class SignInNetworkRead(BaseModel):
    network: str = Field(description="IPv4 address or IPv6 /64 the attempts came from")
    failures: int = Field(description="Consecutive failures from this network")
    last_failure_at: datetime | None
    trusted: bool = Field(
        description="The account signed in from here recently: only this network's own "
        "failures delay it"
    )


class SignInUnlockRead(BaseModel):
    """A one-time unlock code, shown once: read it out to the account's owner."""

    user_id: uuid.UUID
    code: str = Field(description="Typed beside the password, on the new device, once")
    expires_at: datetime


class SignInFailuresRead(BaseModel):
    user_id: uuid.UUID
    username: str
    failures: int = Field(description="Consecutive failed sign-ins, from anywhere")
    last_failure_at: datetime
    waiting_until: datetime | None = Field(
        description="Until then a try from an untrusted network gets 429 (at most 60 s)"
    )
    networks: list[SignInNetworkRead]

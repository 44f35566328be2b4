"""Staff accounts, their refresh-token families, and integrator clients."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType


class StaffUser(Base):
    __tablename__ = "staff_user"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    """counselor | paralegal | transit_staff | supervisor | admin"""
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("unit.id"), index=True)
    display_name: Mapped[str | None] = mapped_column(String(120))
    sex: Mapped[str | None] = mapped_column(String(8))
    """female | male, for the victim's same-sex companion preference (UU TPKS Art. 26(4))."""
    phone: Mapped[str | None] = mapped_column(String(32))
    """Where the notifier reaches them (SMS, WhatsApp, voice) when they are not at a screen."""
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class RefreshToken(Base):
    """A refresh token of one sign-in session ("family"); reusing a used one revokes the family."""

    __tablename__ = "refresh_token"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_user.id"), index=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class IntegratorClient(Base):
    __tablename__ = "integrator_client"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    data_scope: Mapped[str] = mapped_column(String(16), default="none")
    """Which alerts it may see (``app.integrations.scope``): none | transit | police | 112."""
    unit_code: Mapped[str | None] = mapped_column(String(40))
    """For a transit operator's client: the operator (partner code) whose offers it sees."""
    secret_rotated_at: Mapped[datetime | None]
    allowed_network: Mapped[str | None] = mapped_column(String(64))
    """A private CIDR an admin allow-listed for a government intranet (112, police) webhooks."""
    inbound_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The Standard Webhooks secret it signs status pushes with (AEAD-encrypted)."""


class SignInThrottle(Base):
    """Password sign-in failures for one username, or one username from one network.

    Keyed by a digest of what was typed, whether or not such an account exists, so the throttle
    answers alike for known and unknown usernames; ``user_id`` is set only for a real account
    (for the supervisors' list), and the typed username itself is never stored.
    """

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    network: Mapped[str | None] = mapped_column(String(64))
    """The network of a per-network row (``app.ratelimit.network_key``); None account-wide."""
    failures: Mapped[int] = mapped_column(Integer)
    """Consecutive failures (an attempt counts as one until it succeeds)."""
    blocked_until: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(index=True)


class SignInUnlock(Base):
    """A supervisor's one-time unlock: a code the counselor on a new phone types beside her
    password, judged apart from the unknown devices an attacker may have locked out.

    Only a digest of the code is stored (bound to the account). Spent by one successful sign-in,
    by ``app.identity.throttle.UNLOCK_FAILURES`` wrong passwords, or by its expiry."""

    __tablename__ = "sign_in_unlock"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_user.id"))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0)

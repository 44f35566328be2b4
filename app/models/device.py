"""An app install. Its credential is stored only as a SHA-256 digest (looked up on every press)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Device(Base):
    __tablename__ = "device"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    credential_hash: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str | None] = mapped_column(String(32))
    app_version: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    credential_rotated_at: Mapped[datetime | None]
    previous_credential_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    previous_valid_until: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    cancel_pin_hash: Mapped[str | None] = mapped_column(String(200))
    duress_pin_hash: Mapped[str | None] = mapped_column(String(200))
    pin_failures: Mapped[int] = mapped_column(Integer, default=0)
    pin_locked_until: Mapped[datetime | None]
    contact_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    """Optional contact the victim chose to give (name, phone), AEAD-encrypted."""
    unvetted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    """Registered past its network's limit (never refused for volume): its presses are routed
    like any other, but its on-call notifications draw on a small lane of their own."""
    flooded_at: Mapped[datetime | None]
    """When one of its alerts was first set aside as a suspected flood (its flood history: its
    notifications leave the established devices' reserved share alone from then on)."""

"""Audit trail of reads and changes of personal data (ids only, never the data itself).

Rows are inserted unchained on the hot path; the sealer (``app.security.audit_chain``) later gives
each a ``seal_batch`` and an HMAC ``chain`` link, and records each batch in ``audit_seal``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType


class AuditEntry(Base):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(index=True)
    actor_type: Mapped[str] = mapped_column(String(16))
    """staff | integrator | device | operator (the CLI)"""
    actor_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType)
    seal_batch: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), index=True
    )
    chain: Mapped[str | None] = mapped_column(String(64))
    """HMAC-SHA256 of the previous row's link and this row's content (hex)."""


class AuditSeal(Base):
    """One sealing batch: how many rows it chained and the last link (the head)."""

    __tablename__ = "audit_seal"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
    )
    """Consecutive from 1: two sealers racing for the same batch cannot both insert it."""
    sealed_at: Mapped[datetime]
    rows: Mapped[int] = mapped_column(Integer)
    head: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32))
    """The audit key ring's key that sealed it; None: the key derived from the JWT secret (the
    chain's first keying, kept for batches sealed before the ring)."""
    total: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    """Rows sealed up to and including this batch (None on batches sealed before it was kept)."""

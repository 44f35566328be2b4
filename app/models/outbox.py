"""The outbox: events written in the same transaction as the change they describe, their
stream positions, and live console presence."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType


class OutboxEvent(Base):
    __tablename__ = "outbox_event"
    __table_args__ = (
        # The relay's work list: committed events that have no stream position yet.
        Index(
            "ix_outbox_event_unsequenced",
            "id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
        # Resume: the replay window's start, and the retention purge.
        Index("ix_outbox_event_created_at", "created_at", "seq"),
        # A phone's replay: its alerts' events in stream order (app/realtime/device_replay.py).
        Index("ix_outbox_event_alert_seq", "alert_id", "seq"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    event_type: Mapped[str] = mapped_column(String(64))
    alert_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """Ids and non-personal facts only: events reach logs, brokers and other processes."""
    created_at: Mapped[datetime]
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    """Position in the deployment-wide stream, given by the relay *after* commit, in the order
    commits became visible: a reader resuming "after seq N" can never skip a late commit, as it
    could by ``id`` (taken from a sequence before commit)."""


class StreamState(Base):
    """One row: the stream's epoch (changes only if the sequence is reset) and its head."""

    __tablename__ = "stream_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[str] = mapped_column(String(40))
    last_seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class StaffPresence(Base):
    """When a staff member's live console last showed a sign of life (any process)."""

    __tablename__ = "staff_presence"

    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_user.id"), primary_key=True)
    last_seen_at: Mapped[datetime] = mapped_column(index=True)

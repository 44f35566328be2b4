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
        # An alert's events in stream order (a phone's facts: when its alert ended for it).
        Index("ix_outbox_event_alert_seq", "alert_id", "seq"),
        # A phone's own numbering (app/realtime/device_stream.py): its replay reads by it, and
        # no number is ever given twice.
        Index("ix_outbox_event_device_seq", "device_id", "device_seq", unique=True),
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
    device_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    """The phone that sees this event (set with ``device_seq``), or None."""
    device_seq: Mapped[int | None] = mapped_column(BigInteger, default=None)
    """Position in that phone's own stream (1, 2, 3, ... gap-free), given by the relay in the
    same transaction as ``seq`` to the events the phone may see: its stream counts nothing
    that happens to anyone else (PRODUCT.md section 6)."""


class StreamState(Base):
    """One row: the stream's epoch (changes only if the sequence is reset) and its head."""

    __tablename__ = "stream_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[str] = mapped_column(String(40))
    last_seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class DeviceStream(Base):
    """A phone's stream head: the last number given to one of its events. Kept apart from the
    events, so purging old events never moves it (a genuine and a duress cancel, whose events
    are kept for different times, must leave the same head)."""

    __tablename__ = "device_stream"

    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("device.id", ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(BigInteger)


class StaffPresence(Base):
    """When a staff member's live console last showed a sign of life (any process)."""

    __tablename__ = "staff_presence"

    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_user.id"), primary_key=True)
    last_seen_at: Mapped[datetime] = mapped_column(index=True)

"""Outbound notifications (SMS, WhatsApp, voice) and the daily budget they are sent against."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Notification(Base):
    """A message to a person who is not watching a screen; sent at least once by the notifier.

    ``dedupe_key`` makes a retried transaction or a second worker unable to queue it twice; the
    text never carries a victim's identity (only the case code and what to do)."""

    __tablename__ = "notification"
    __table_args__ = (
        # The notifier's claim (due rows by status) and its digest check (a person's last sends).
        Index("ix_notification_status_due_at", "status", "due_at"),
        Index("ix_notification_recipient_id_sent_at", "recipient_id", "sent_at"),
        # A person's inbox in the console, newest first.
        Index("ix_notification_recipient_id_created_at", "recipient_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    alert_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("alert.id"), index=True)
    recipient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_user.id"))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    """queued | sending | sent | suppressed | failed"""
    channel: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(index=True)
    due_at: Mapped[datetime] = mapped_column(index=True)
    """When the notifier next looks at it: its send time while queued, its lease's end while
    sending (one index then finds both)."""
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    claimed_until: Mapped[datetime | None]
    """While ``sending``: a sender that has not recorded the outcome by then is presumed dead,
    and the message is sent again (with the same id, so the gateway can drop the repeat)."""
    read_at: Mapped[datetime | None]
    """When its recipient marked it read in the console's inbox (``app/notify/inbox.py``): every
    message is also there, whatever became of its delivery."""
    digest_id: Mapped[uuid.UUID | None]
    """The message this one was sent inside (critical messages to one person are coalesced into
    one digest per window); the digest goes out under that message's id."""


class NotificationBudget(Base):
    """Messages sent on one local day (the region's time zone) from one pool.

    ``ordinary`` and ``critical`` are separate pools, so routine messages can never spend what
    escalations, hand-offs and breaches need. A row is locked while a batch is claimed: two
    senders cannot both spend its last unit."""

    __tablename__ = "notification_budget"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    pool: Mapped[str] = mapped_column(String(16), primary_key=True)
    spent: Mapped[int] = mapped_column(Integer, default=0)
    capped_at: Mapped[datetime | None]
    """When this pool first turned a message away that day (supervisors were told then)."""

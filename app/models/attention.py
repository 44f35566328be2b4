"""Attention items: what on an alert needs a supervisor, kept open until one deals with it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType


class AttentionItem(Base):
    """One flag on one alert (``kind``: an open list, see ``app.sla.attention``). ``key`` tells
    occurrences of a kind apart (which clocks breached, which press): an item acknowledged is
    never raised again for the same key, a new key raises a new item."""

    __tablename__ = "attention_item"
    __table_args__ = (
        UniqueConstraint("alert_id", "kind", "key"),
        # The board's list: open items only, however many were cleared before.
        Index(
            "ix_attention_item_open",
            "raised_at",
            postgresql_where=text("cleared_at IS NULL"),
            sqlite_where=text("cleared_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(120), default="")
    rank: Mapped[int] = mapped_column(Integer)
    """Higher first: the server's order for the board (``app.sla.attention.RANKS``)."""
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """Non-personal facts (clocks, press count)."""
    raised_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
    cleared_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"))
    clear_reason: Mapped[str | None] = mapped_column(String(24))
    """acknowledged | alert_closed | condition_ended | superseded"""

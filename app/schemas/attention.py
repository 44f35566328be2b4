"""Attention items as the board reads them, and the console's inbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.schemas.common import StrictInput


class AttentionItemRead(BaseModel):
    id: uuid.UUID
    alert_id: uuid.UUID
    case_code: str
    kind: str = Field(
        ...,
        description=(
            "An open list: `unheld` (nobody holds it and no leg is open), "
            "`handoff_unconfirmed` (112 has not confirmed the hand-off), `ladder_exhausted`, "
            "`sla_breached`, `duress`, `repeat_press`, `flood_suspected`; a console shows an "
            "unknown kind by its name"
        ),
        examples=["handoff_unconfirmed"],
    )
    rank: int = Field(..., description="Higher first: the board orders alerts by their items' rank")
    detail: dict[str, Any] = Field(..., description="Non-personal facts: clocks, press count")
    raised_at: datetime
    cleared_at: datetime | None = None
    clear_reason: str | None = Field(
        None, description="acknowledged | alert_closed | condition_ended | superseded"
    )


class InboxMessage(BaseModel):
    id: uuid.UUID
    kind: str = Field(..., examples=["escalation"])
    text: str = Field(..., description="As it was sent: the case code and what to do, no names")
    alert_id: uuid.UUID | None
    created_at: datetime
    delivery: str = Field(
        ..., description="queued | sending | sent | suppressed | failed (of the message sent)"
    )
    channel: str | None = Field(None, description="The provider that took it (`log`: only the log)")
    read_at: datetime | None


class InboxPage(BaseModel):
    items: list[InboxMessage]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; null on the last page."
    )
    unread: int = Field(..., description="Unread messages in all, not only on this page")


class InboxRead(StrictInput):
    ids: list[uuid.UUID] | None = Field(
        None, max_length=100, description="The messages to mark read; omitted or null: all"
    )

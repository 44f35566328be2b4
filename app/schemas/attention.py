"""Attention items as the board reads them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


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

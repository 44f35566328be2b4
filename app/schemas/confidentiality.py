"""Restricted records and break-glass: what a route takes and what the report lists."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from app.policy.restriction import (
    BREAK_GLASS_MIN_REASON,
    BREAK_GLASS_MIN_WORDS,
    RestrictionReason,
)
from app.schemas.common import StrictInput


class RestrictionRequest(StrictInput):
    restricted: bool = Field(..., description="true: restrict the record; false: lift it")
    reason: RestrictionReason | None = Field(
        None,
        description=(
            "Required to restrict: why, as a category (the victim or the reported person is a "
            "staff member, an LPSK-protected witness, a public figure). Never free text: the "
            "category reaches the stream and the timeline"
        ),
    )

    @model_validator(mode="after")
    def _reason_to_restrict(self) -> RestrictionRequest:
        if self.restricted and self.reason is None:
            raise ValueError("a reason is required to restrict a record")
        if not self.restricted and self.reason is not None:
            raise ValueError("lifting a restriction takes no reason category")
        return self


class BreakGlassRequest(StrictInput):
    reason: str = Field(
        ...,
        min_length=BREAK_GLASS_MIN_REASON,
        max_length=500,
        description=(
            f"Why you must see this restricted record whole: at least {BREAK_GLASS_MIN_REASON} "
            f"characters and {BREAK_GLASS_MIN_WORDS} words. Audited and reported to every "
            "supervisor and admin"
        ),
        examples=["Victim called the hotline again; the holding post is unreachable"],
    )

    @field_validator("reason")
    @classmethod
    def _a_sentence(cls, value: str) -> str:
        if len(set(value.lower().split())) < BREAK_GLASS_MIN_WORDS:
            raise ValueError(f"write the reason in at least {BREAK_GLASS_MIN_WORDS} words")
        if any(ord(c) < 32 and c not in "\t\n" for c in value):
            raise ValueError("control characters are not allowed")
        return value


class BreakGlassRead(BaseModel):
    """One line of the break-glass report: a break of the glass, or a claim someone took on a
    restricted alert after reassigning it (or breaking its claim) themselves."""

    kind: Literal["grant", "claim_after_reassign"] = Field(
        "grant",
        description=(
            "`grant`: a break of the glass (`reason` is its written reason, `expires_at` its "
            "end). `claim_after_reassign`: `username` took the claim (`id`: the leg) at "
            "`granted_at` after sending the alert there themselves; `reason` is the "
            "reassignment's, `expires_at` null. Such a claim shows the record pseudonymous only."
        ),
    )
    id: uuid.UUID
    alert_id: uuid.UUID
    case_code: str
    staff_id: uuid.UUID
    username: str
    reason: str
    granted_at: datetime
    expires_at: datetime | None

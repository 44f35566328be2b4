"""The audit trail as the API answers it (``GET /v1/audit``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

AuditKind = Literal["read", "write", "export", "denied", "break_glass"]


class AuditEntryRead(BaseModel):
    """One thing someone did with a record: read, changed, exported, was refused or broke the
    glass. Ids only: what was read is never in the trail."""

    id: int
    at: datetime
    kind: AuditKind
    action: str = Field(examples=["alert.read"])
    actor_type: Literal["staff", "integrator", "device", "operator", "system"]
    actor: str | None = Field(
        description="A staff member's username, an integrator's id, `cli:<os user>` for an "
        "operator; null in a data-subject answer (`view=subject`), which names roles and units "
        "only (UU PDP Art. 33)."
    )
    actor_role: str | None
    actor_unit: str | None
    object_type: str = Field(examples=["alert"])
    object_id: uuid.UUID | None
    case_code: str | None = Field(description="The alert's case code, for entries on an alert")

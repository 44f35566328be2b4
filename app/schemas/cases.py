"""Case and SLA schemas: classification (SIMFONI-PPA), legal milestones, clocks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from app.schemas.common import StrictInput

ViolenceType = Literal[
    "fisik", "psikis", "seksual", "eksploitasi", "trafficking", "penelantaran", "lainnya"
]
RiskLevel = Literal["high", "medium", "low"]
AgeGroup = Literal["child", "adult", "unknown"]
Stage = Literal[
    "pengaduan",
    "identifikasi",
    "kesehatan",
    "rehabilitasi_sosial",
    "bantuan_hukum",
    "mediasi",
    "pemulangan",
    "reintegrasi",
    "selesai",
]
Milestone = Literal[
    "police_reported",
    "protection_granted",
    "lpsk_requested",
    "protection_ended",
    "followed_up",
    "services_applied",
    "services_delivered",
]


class CaseCreate(StrictInput):
    violence_types: list[ViolenceType] = Field(..., min_length=1, max_length=7)
    risk_level: RiskLevel
    victim_age_group: AgeGroup = "unknown"


class CaseUpdate(StrictInput):
    violence_types: list[ViolenceType] | None = Field(None, min_length=1, max_length=7)
    risk_level: RiskLevel | None = None
    victim_age_group: AgeGroup | None = None
    stage: Stage | None = Field(
        None, description="Service stage (SOP UPTD PPA); `mediasi` is refused for sexual violence"
    )


class MilestoneCreate(StrictInput):
    milestone: Milestone
    occurred_at: AwareDatetime | None = Field(
        None, description="When it happened, if earlier than now (recorded after the fact)"
    )


class CaseRead(BaseModel):
    id: uuid.UUID
    alert_id: uuid.UUID
    opened_at: datetime
    violence_types: list[str]
    risk_level: RiskLevel
    victim_age_group: AgeGroup | None = Field(
        description=(
            "null where the caller may not see whether the victim is a child (as the alert's "
            "`victim_is_child`): a restricted record without the claim or the glass, or a post "
            "only offered the alert"
        )
    )
    stage: Stage
    milestones: dict[str, Any]
    updated_at: datetime


class SlaClockRead(BaseModel):
    clock: str
    target_key: str
    policy_version: str
    status: Literal["running", "warning", "breached", "met", "closed"]
    started_at: datetime
    warn_at: datetime
    deadline_at: datetime
    stopped_at: datetime | None
    breach_cause: str | None
    excluded: bool

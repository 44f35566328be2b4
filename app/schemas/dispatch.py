"""Dispatch schemas: offers and claims, routing explanations, progress, notes, rosters."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from app.schemas.common import StrictInput

Milestone = Literal["contacted", "on_scene", "handed_over"]
ShiftKind = Literal["at_post", "on_call"]
HandOver = Literal["police", "health", "shelter", "counselor", "other"]
Disposition = Literal[
    "assisted",
    "referred_police",
    "referred_health",
    "referred_shelter",
    "false_alarm",
    "accidental",
    "duplicate",
    "unreachable",
    "cancelled_by_victim",
    "cancelled_under_duress",
]


class ActionRead(BaseModel):
    """Whether the caller may take one action now, judged by the code that judges the action."""

    allowed: bool
    reason: str | None = Field(
        None,
        description=(
            "Why not, a stable code: `role`, `closed`, `not_offered`, `held_by_other`, "
            "`offer_closed`, `no_claim`, `not_holding`, `ppa_leg_only`, `transit_leg_only`, "
            "`not_acknowledged`, `do_not_call_back`, `not_resolved`, `reopen_window_passed`; "
            "`accepted_by_you` and `recorded` mean it is done already (doing it again changes "
            "nothing). A refused action's problem+json carries the same `reason`."
        ),
    )
    until: datetime | None = Field(None, description="A time-bound action is open until then")
    assignment_id: uuid.UUID | None = Field(
        None, description="The leg the action is on (accept, decline, break_claim)"
    )


class AssignmentRead(BaseModel):
    """One leg: a unit offered an alert, and who (if anyone) holds the claim."""

    id: uuid.UUID
    alert_id: uuid.UUID
    case_code: str | None = Field(None, description="Pseudonymous case code of the alert")
    step: int
    unit_code: str
    leg_kind: Literal["post", "central", "transit"]
    reason: str = Field(description="Why this unit: nearest, jurisdiction, uncertain, ...")
    status: Literal[
        "offered",
        "accepted",
        "declined",
        "expired",
        "withdrawn",
        "lapsed",
        "released",
        "completed",
    ]
    preferred_sex: str | None = Field(
        None, description="The victim asked for a companion of this sex (UU TPKS Art. 26(4))"
    )
    is_drill: bool | None = None
    offered_at: datetime
    deadline_at: datetime
    accepted_at: datetime | None
    accepted_by: uuid.UUID | None
    lease_expires_at: datetime | None
    closed_at: datetime | None
    close_reason: str | None
    actions: dict[str, ActionRead] | None = Field(
        None, description="In the queue: the caller's `accept` and `decline` of this leg"
    )


class DeclineRequest(StrictInput):
    reason: str = Field(..., min_length=2, max_length=200, examples=["counselor on another case"])


class BreakRequest(StrictInput):
    reason: str = Field(..., min_length=2, max_length=200, examples=["holder unreachable"])


class LegalHoldRequest(StrictInput):
    hold: bool = Field(..., description="true: keep it whole past retention; false: release")
    reason: str = Field(..., min_length=2, max_length=500, description="Why (audited)")


class ReassignRequest(StrictInput):
    unit_code: str = Field(..., min_length=1, max_length=40, examples=["3171060"])
    reason: str = Field(..., min_length=2, max_length=200)


class ProgressRequest(StrictInput):
    milestone: Milestone
    handed_over_to: HandOver | None = Field(
        None, description="With `handed_over`: to whom the victim was handed"
    )

    @model_validator(mode="after")
    def _hand_over_target(self) -> ProgressRequest:
        if self.handed_over_to is not None and self.milestone != "handed_over":
            raise ValueError("handed_over_to goes with milestone handed_over only")
        return self


class ResolveRequest(StrictInput):
    disposition: Disposition


class ReopenRequest(StrictInput):
    reason: str = Field(..., min_length=5, max_length=500, examples=["victim called back"])


class NoteCreate(StrictInput):
    text: str = Field(..., min_length=1, max_length=4000)


class NoteRead(BaseModel):
    id: uuid.UUID
    author_id: uuid.UUID
    text: str | None = Field(
        description="Null on a restricted record you do not see whole (break the glass)"
    )
    created_at: datetime


class DecisionRead(BaseModel):
    step: int
    trigger: str
    policy: str
    created_at: datetime
    decision: dict[str, Any] = Field(
        description=(
            "Candidates with distances and ETAs, skipped units with reasons, the nearest and "
            "the jurisdiction post, the transit outcome and any fallback"
        )
    )
    legs: list[AssignmentRead]


class RoutingRead(BaseModel):
    alert_id: uuid.UUID
    state: str
    dispatch_step: int
    escalations: int
    transferred_at: datetime | None
    decisions: list[DecisionRead]


class TimelineEntry(BaseModel):
    at: datetime
    event: str
    data: dict[str, Any]


class ShiftCreate(StrictInput):
    username: str = Field(..., min_length=1, max_length=64)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    kind: ShiftKind = Field(
        "at_post",
        description=(
            "at_post: offered while the console is open; on_call: offered while rostered, "
            "reached by the notifier (SMS/WhatsApp/voice) with a link to the console"
        ),
    )

    @model_validator(mode="after")
    def _order(self) -> ShiftCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if (self.ends_at - self.starts_at).total_seconds() > 7 * 24 * 3600:
            raise ValueError("a shift lasts at most 7 days")
        return self


class ShiftRead(BaseModel):
    id: uuid.UUID
    unit_code: str
    staff_id: uuid.UUID
    username: str
    starts_at: datetime
    ends_at: datetime
    kind: ShiftKind


class OnDutyRead(BaseModel):
    unit_code: str
    at: datetime
    open: bool
    rostered: list[str] = Field(description="Usernames with a shift covering now")
    present: list[str] = Field(
        description="Of those, who has a live console (seen within the presence grace)"
    )
    members: list[str] = Field(
        description=(
            "Who counts as on duty for routing: on-call shifts always, at-post shifts while "
            "present when the deployment requires live presence"
        )
    )
    on_call: list[str] = Field(
        default_factory=list,
        description="Of the members, who is on call (reached by the notifier, console or not)",
    )


class PassedOnRead(BaseModel):
    """What a unit may still know about an alert once its own leg has closed: where it went, and
    nothing else (a link from an on-call message may be opened long after)."""

    alert_id: uuid.UUID
    unit_code: str = Field(description="The asking unit")
    open_for_you: bool = Field(description="Your unit's leg is still offered or held")
    passed_to: list[str] = Field(
        description="Unit codes whose legs are open now (empty when none or the alert is closed)"
    )
    alert_closed: bool = Field(description="The alert is resolved or cancelled")

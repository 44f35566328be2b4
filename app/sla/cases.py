"""Cases: the counselor's classification of an alert and its legal milestones.

Opening a case starts the legal clocks (the police report's 3 x 24 h runs from the alert's
receipt, UU TPKS Art. 41); recording a milestone stops one clock and may start the next. A case of
sexual violence can never go to mediation (UU TPKS Art. 23).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import StaffPrincipal
from app.audit import record
from app.errors import Conflict, MediationForbidden, NotFound, ValidationFailed
from app.events import emit
from app.models import Alert, Case
from app.policy.alerts import AlertAccess, open_alert
from app.policy.roles import CASE_ROLES
from app.schemas.cases import CaseCreate, CaseRead, CaseUpdate, MilestoneCreate

MILESTONE_NEEDS = {
    "protection_granted": "police_reported",
    "lpsk_requested": "protection_granted",
    "protection_ended": "protection_granted",
    "services_delivered": "services_applied",
}


async def _alert_for(
    session: AsyncSession, alert_id: uuid.UUID, staff: StaffPrincipal, now: datetime
) -> tuple[Alert, AlertAccess]:
    alert, access = await open_alert(session, staff, alert_id, now=now, lock=True)
    if not access.fields.case_matters or staff.role not in CASE_ROLES:
        raise NotFound()  # case files are for UPTD PPA, not for transit operators
    return alert, access


def _no_sexual_mediation(violence_types: list[str], stage: str) -> None:
    if stage == "mediasi" and "seksual" in violence_types:
        raise MediationForbidden(
            "A case of sexual violence can never be settled by mediation (UU TPKS Art. 23)."
        )


def case_read(case: Case, access: AlertAccess) -> CaseRead:
    """The case as this caller may see it: its age group says whether the victim is a child,
    which is shown exactly where the alert's ``victim_is_child`` is (never on a restricted
    record without the claim or the glass, never to a post only offered the alert)."""
    return CaseRead(
        id=case.id,
        alert_id=case.alert_id,
        opened_at=case.opened_at,
        violence_types=list(case.violence_types),
        risk_level=case.risk_level,
        victim_age_group=case.victim_age_group if access.fields.shows_child_flag else None,
        stage=case.stage,
        milestones=dict(case.milestones),
        updated_at=case.updated_at,
    )


async def open_case(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    staff: StaffPrincipal,
    data: CaseCreate,
    now: datetime,
) -> CaseRead:
    alert, access = await _alert_for(session, alert_id, staff, now)
    if await session.scalar(select(Case.id).where(Case.alert_id == alert.id)) is not None:
        raise Conflict("This alert already has a case; update it instead.")
    case = Case(
        id=uuid.uuid4(),
        alert_id=alert.id,
        opened_at=now,
        opened_by=staff.user_id,
        violence_types=sorted(set(map(str, data.violence_types))),
        risk_level=data.risk_level,
        victim_age_group=data.victim_age_group,
        stage="pengaduan",
        milestones={},
        updated_at=now,
    )
    session.add(case)
    alert.sla_dirty = True
    emit(session, "case.opened", at=now, alert_id=alert.id, data=_summary(case))
    _audit(session, staff, "case.opened", case, now)
    return case_read(case, access)


async def case_of(
    session: AsyncSession, *, alert_id: uuid.UUID, staff: StaffPrincipal, now: datetime
) -> CaseRead:
    _, access = await _alert_for(session, alert_id, staff, now)
    case = await session.scalar(select(Case).where(Case.alert_id == alert_id))
    if case is None:
        raise NotFound()
    return case_read(case, access)


async def update_case(
    session: AsyncSession,
    *,
    case_id: uuid.UUID,
    staff: StaffPrincipal,
    data: CaseUpdate,
    now: datetime,
) -> CaseRead:
    case, access = await _case(session, case_id, staff, now)
    violence: list[str] = (
        sorted(set(data.violence_types)) if data.violence_types else list(case.violence_types)
    )
    stage = data.stage or case.stage
    _no_sexual_mediation(violence, stage)
    case.violence_types, case.stage = violence, stage
    if data.risk_level is not None:
        case.risk_level = data.risk_level
    if data.victim_age_group is not None:
        case.victim_age_group = data.victim_age_group
    case.updated_at = now
    emit(session, "case.updated", at=now, alert_id=case.alert_id, data=_summary(case))
    # Which fields, never their values: the classification is about the victim.
    _audit(session, staff, "case.updated", case, now, fields=sorted(data.model_fields_set))
    return case_read(case, access)


async def record_milestone(
    session: AsyncSession,
    *,
    case_id: uuid.UUID,
    staff: StaffPrincipal,
    data: MilestoneCreate,
    now: datetime,
) -> CaseRead:
    case, access = await _case(session, case_id, staff, now)
    occurred = data.occurred_at or now
    if occurred > now:
        raise ValidationFailed(
            "A milestone cannot be in the future.",
            extra={"errors": [{"loc": ["body", "occurred_at"], "msg": "in the future"}]},
        )
    alert = await session.get(Alert, case.alert_id)
    assert alert is not None
    if occurred < alert.received_at:
        raise ValidationFailed(
            "A milestone cannot precede the victim's report (the alert's receipt).",
            extra={"errors": [{"loc": ["body", "occurred_at"], "msg": "before the report"}]},
        )
    needed = MILESTONE_NEEDS.get(data.milestone)
    if needed is not None and needed not in case.milestones:
        raise Conflict(f"Record {needed} before {data.milestone}.")
    if needed is not None and occurred < datetime.fromisoformat(case.milestones[needed]["at"]):
        raise ValidationFailed(
            f"{data.milestone} cannot precede {needed}.",
            extra={"errors": [{"loc": ["body", "occurred_at"], "msg": "before " + needed}]},
        )
    existing = case.milestones.get(data.milestone)
    if existing is not None:
        if datetime.fromisoformat(existing["at"]) == occurred:
            return case_read(case, access)  # recording the same fact twice is harmless
        raise Conflict(f"{data.milestone} is already recorded; it is a legal record.")
    entry: dict[str, Any] = {
        "at": occurred.isoformat(),
        "recorded_at": now.isoformat(),
        "by": str(staff.user_id),
    }
    case.milestones = {**case.milestones, data.milestone: entry}
    case.updated_at = now
    alert.sla_dirty = True
    emit(
        session,
        "case.milestone_recorded",
        at=now,
        alert_id=case.alert_id,
        data={"case_id": str(case.id), "milestone": data.milestone, "occurred_at": entry["at"]},
    )
    _audit(session, staff, "case.milestone_recorded", case, now, milestone=data.milestone)
    return case_read(case, access)


async def _case(
    session: AsyncSession, case_id: uuid.UUID, staff: StaffPrincipal, now: datetime
) -> tuple[Case, AlertAccess]:
    case = await session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise NotFound()
    _, access = await _alert_for(session, case.alert_id, staff, now)
    return case, access


def _audit(
    session: AsyncSession,
    staff: StaffPrincipal,
    action: str,
    case: Case,
    now: datetime,
    **detail: Any,
) -> None:
    """A change to a case file, in the change's transaction (ids and names of steps only)."""
    record(
        session,
        principal=staff,
        action=action,
        object_type="case",
        object_id=case.id,
        at=now,
        detail={"alert_id": str(case.alert_id), **detail},
    )


def _summary(case: Case) -> dict[str, Any]:
    # Categories and stage, never narrative: events travel to sockets and logs.
    return {
        "case_id": str(case.id),
        "violence_types": list(case.violence_types),
        "risk_level": case.risk_level,
        "stage": case.stage,
    }

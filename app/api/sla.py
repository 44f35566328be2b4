"""SLA routes: an alert's clocks, its case with legal milestones, and the SLA report."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime
from sqlalchemy import select

from app.access import IntegratorPrincipal, require_scope, require_staff
from app.api.deps import Context, CurrentPrincipal, Session, error_responses
from app.audit import record
from app.errors import (
    Conflict,
    Forbidden,
    MediationForbidden,
    NotFound,
    PassedOn,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from app.models import Region, SlaClock
from app.policy.alerts import open_alert
from app.policy.events import UPTD_CLOCKS
from app.policy.reports import report_audience
from app.schemas.cases import CaseCreate, CaseRead, CaseUpdate, MilestoneCreate, SlaClockRead
from app.sla import cases
from app.sla.clocks import clocks_now
from app.sla.reports import GroupBy, as_csv, sla_report, snap

router = APIRouter(prefix="/v1", tags=["sla"])
_ERRORS = error_responses(Unauthenticated, Forbidden, NotFound, PassedOn, ValidationFailed)
_WRITE = {**_ERRORS, **error_responses(Conflict, UnsupportedMediaType)}
_CASE_STAFF = ("counselor", "paralegal", "supervisor", "admin")
_REPORT_EXAMPLE: dict[str, Any] = {
    "from": "2026-11-01T17:00:00+00:00",
    "to": "2026-11-02T17:00:00+00:00",
    "group_by": "post",
    "region": "dki-jakarta",
    "timezone": "Asia/Jakarta",
    "granularity": "day",
    "min_cell": 5,
    "percentiles": "continuous (linear interpolation), seconds",
    "groups": [
        {
            "key": "3171060",
            "suppressed": False,
            "alerts": 12,
            "excluded": {"drills": 1, "accidental": 2},
            "clocks": {
                "acknowledgement": {
                    "finished": 9,
                    "met": 8,
                    "breached": 1,
                    "share_met": 0.8889,
                    "p50_s": 21.4,
                    "p90_s": 52.0,
                    "p99_s": 71.3,
                    "breaches_by_cause": {"timed_out": 1},
                }
            },
        },
        {"key": "3171070", "suppressed": True},
    ],
}


@router.get(
    "/alerts/{alert_id}/sla",
    summary="The alert's response-time clocks (and its case's legal clocks)",
    response_model=list[SlaClockRead],
    responses=_ERRORS,
)
async def get_clocks(
    alert_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> list[SlaClockRead]:
    staff = require_staff(principal)
    now = context.clock.now()
    alert, access = await open_alert(session, staff, alert_id, now=now)
    rows = (
        await session.scalars(
            select(SlaClock).where(SlaClock.alert_id == alert_id).order_by(SlaClock.started_at)
        )
    ).all()
    current = clocks_now(alert, rows, now=now)  # not waiting for the monitor's next pass
    clocks = [
        SlaClockRead.model_validate(r, from_attributes=True).model_copy(
            update=asdict(current[r.clock])
        )
        for r in rows
        if access.covers(r.started_at)
        and (access.fields.case_matters or r.clock not in UPTD_CLOCKS)  # policy/events.py
    ]
    record(
        session,
        principal=staff,
        action="alert.sla_read",
        object_type="alert",
        object_id=alert_id,
        at=now,
    )
    await session.commit()
    return clocks


@router.post(
    "/alerts/{alert_id}/case",
    status_code=201,
    summary="Open a case: classification (SIMFONI-PPA), risk, age group; starts legal clocks",
    description=(
        "The police-report clock (UU TPKS Art. 41, 3 x 24 h) runs from the alert's receipt, "
        "not from this moment."
    ),
    response_model=CaseRead,
    responses=_WRITE,
)
async def post_case(
    alert_id: uuid.UUID,
    data: CaseCreate,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> CaseRead:
    staff = require_staff(principal, *_CASE_STAFF)
    read = await cases.open_case(
        session, alert_id=alert_id, staff=staff, data=data, now=context.clock.now()
    )
    await session.commit()
    return read


@router.get(
    "/alerts/{alert_id}/case",
    summary="The alert's case",
    response_model=CaseRead,
    responses=_ERRORS,
)
async def get_case(
    alert_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> CaseRead:
    staff = require_staff(principal, *_CASE_STAFF)
    now = context.clock.now()
    read = await cases.case_of(session, alert_id=alert_id, staff=staff, now=now)
    record(
        session, principal=staff, action="case.read", object_type="case", object_id=read.id, at=now
    )
    await session.commit()
    return read


@router.patch(
    "/cases/{case_id}",
    summary="Reclassify a case or move it to another service stage",
    response_model=CaseRead,
    responses={**_WRITE, **error_responses(MediationForbidden)},
)
async def patch_case(
    case_id: uuid.UUID,
    data: CaseUpdate,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> CaseRead:
    staff = require_staff(principal, *_CASE_STAFF)
    read = await cases.update_case(
        session, case_id=case_id, staff=staff, data=data, now=context.clock.now()
    )
    await session.commit()
    return read


@router.post(
    "/cases/{case_id}/milestones",
    summary="Record a legal milestone (police report, protection, LPSK, services)",
    description=(
        "Each milestone is recorded once (a legal record); `occurred_at` may be earlier than "
        "now when it is recorded after the fact, never in the future."
    ),
    response_model=CaseRead,
    responses=_WRITE,
)
async def post_milestone(
    case_id: uuid.UUID,
    data: MilestoneCreate,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> CaseRead:
    staff = require_staff(principal, *_CASE_STAFF)
    read = await cases.record_milestone(
        session, case_id=case_id, staff=staff, data=data, now=context.clock.now()
    )
    await session.commit()
    return read


@router.get(
    "/reports/sla",
    summary="SLA report: share met, percentiles and breaches per group (JSON or CSV)",
    description=(
        "Supervisors, admins and integrators with `reports:read`. Drills and accidental "
        "presses are counted apart and never against a target; alerts cancelled under duress "
        "count like any other. Percentiles are continuous (as PostgreSQL's percentile_cont).\n\n"
        "So that no report singles out a person, the window snaps outward to whole days in the "
        "region's time zone (whole hours for supervisors) and the answer's `from`/`to` state "
        "the snapped window; integrators get no group of fewer than `min_cell` alerts (it "
        'reads `"suppressed": true` without figures, with as many further groups as it takes '
        "that no total gives it away); `cancelled_under_duress` is given to supervisors only."
    ),
    responses={
        200: {
            "content": {
                "application/json": {"example": _REPORT_EXAMPLE},
                "text/csv": {},
            }
        },
        **_ERRORS,
    },
)
async def get_report(
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
    start: Annotated[AwareDatetime, Query(alias="from")],
    end: Annotated[AwareDatetime, Query(alias="to")],
    group_by: Annotated[GroupBy, Query()] = "post",
    region: Annotated[str, Query(max_length=32)] = "dki-jakarta",
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    if isinstance(principal, IntegratorPrincipal):
        require_scope(principal, "reports:read")
    else:
        require_staff(principal, "supervisor", "admin")
    if end <= start or end - start > timedelta(days=366):
        raise ValidationFailed(
            "`to` must be after `from`, at most a year later.",
            extra={"errors": [{"loc": ["query", "to"], "msg": "bad range"}]},
        )
    zone = await session.scalar(select(Region.timezone).where(Region.code == region))
    if zone is None:
        raise NotFound()
    audience = report_audience(principal, min_cell=context.settings.sla.report_min_cell)
    start, end = snap(start, end, granularity=audience.granularity, timezone=zone)
    report = await sla_report(
        session,
        start=start,
        end=end,
        group_by=group_by,
        timezone=zone,
        region=region,
        audience=audience,
    )
    if format == "csv":
        return Response(
            as_csv(report, shows_duress=audience.shows_duress),
            media_type="text/csv; charset=utf-8",
        )
    return report

"""Restricted records and break-glass: restrict or lift, break the glass, and the report."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.access import require_staff
from app.api.deps import Context, CurrentPrincipal, Paging, Session, error_responses
from app.audit import record
from app.confidentiality import break_glass, list_grants, set_restriction
from app.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PassedOn,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from app.policy.restriction import BREAK_GLASS_MIN_REASON
from app.schemas.common import Page
from app.schemas.confidentiality import BreakGlassRead, BreakGlassRequest, RestrictionRequest

router = APIRouter(prefix="/v1", tags=["confidentiality"])
_WRITE_ERRORS = error_responses(
    Unauthenticated,
    Forbidden,
    NotFound,
    PassedOn,
    Conflict,
    UnsupportedMediaType,
    ValidationFailed,
)


@router.post(
    "/alerts/{alert_id}/restriction",
    status_code=204,
    summary="Restrict a record, or lift the restriction; audited",
    description=(
        "A restricted record shows its identity (contact, message, body, notes, "
        "`victim_is_child`) only to the unit that held its claim when it was restricted; "
        "supervisors, and a unit claiming it later, see it whole only after breaking the glass, "
        "admins never. Restricting is for supervisors and the "
        "counselors or paralegals of the unit holding the claim, with a reason category; lifting "
        "is for supervisors. Asking for the state the record is already in changes nothing."
    ),
    response_class=Response,
    responses=_WRITE_ERRORS,
)
async def post_restriction(
    alert_id: uuid.UUID,
    body: RestrictionRequest,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> Response:
    staff = require_staff(principal, "counselor", "paralegal", "supervisor")
    await set_restriction(
        session,
        alert_id=alert_id,
        staff=staff,
        restricted=body.restricted,
        reason=body.reason,
        now=context.clock.now(),
    )
    await session.commit()
    return Response(status_code=204)


@router.post(
    "/alerts/{alert_id}/break-glass",
    status_code=201,
    summary="Break the glass: see a restricted record whole for a while, with a written reason",
    description=(
        "For supervisors, and for the counselors and paralegals of the unit holding the claim "
        "when it was taken after the record was restricted (taking a restricted alert opens "
        "its pseudonymous view only; admins never see its identity). "
        f"The reason (at least {BREAK_GLASS_MIN_REASON} characters and three "
        "words) is audited and listed in `GET /v1/break-glass` for every supervisor and admin; "
        "the event `alert.glass_broken` reaches their boards at once. The grant lasts "
        "`SIGAP_SECURITY__BREAK_GLASS_S` (30 min by default); then the record is pseudonymous "
        "again for you. An unrestricted record answers 409: you see it whole already."
    ),
    response_model=BreakGlassRead,
    responses=_WRITE_ERRORS,
)
async def post_break_glass(
    alert_id: uuid.UUID,
    body: BreakGlassRequest,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> BreakGlassRead:
    staff = require_staff(principal, "supervisor", "counselor", "paralegal")
    grant = await break_glass(
        session,
        alert_id=alert_id,
        staff=staff,
        reason=body.reason,
        ttl=timedelta(seconds=context.settings.security.break_glass_s),
        now=context.clock.now(),
        keyring=context.keyring,
    )
    await session.commit()
    return grant


@router.get(
    "/break-glass",
    summary="Every break of the glass, newest first (supervisors and admins); the report",
    description="Who opened which restricted record, when, why and until when.",
    response_model=Page[BreakGlassRead],
    responses=error_responses(Unauthenticated, Forbidden, ValidationFailed),
)
async def get_break_glass(
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
    paging: Paging,
    alert_id: Annotated[uuid.UUID | None, Query(description="Only this alert's")] = None,
) -> Page[BreakGlassRead]:
    staff = require_staff(principal, "supervisor", "admin")
    items, next_cursor = await list_grants(
        session,
        limit=paging.limit,
        cursor=paging.cursor,
        keyring=context.keyring,
        alert_id=alert_id,
    )
    record(
        session,
        principal=staff,
        action="break_glass.report_read",
        object_type="break_glass",
        object_id=alert_id,
        at=context.clock.now(),
        detail={"rows": len(items)},
    )
    await session.commit()
    return Page[BreakGlassRead](
        items=items, next_cursor=next_cursor.encode() if next_cursor else None
    )

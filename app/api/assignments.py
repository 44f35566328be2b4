"""Offers and claims: a unit's staff accept or decline, keep a claim alive; supervisors break it."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.access import StaffPrincipal, require_staff
from app.api.deps import Context, CurrentPrincipal, Paging, Session, error_responses
from app.dispatch import claims
from app.dispatch.views import assignment_read, list_assignments
from app.dispatch.worker import dispatch_of
from app.errors import (
    AlertClosed,
    ClaimHeld,
    Forbidden,
    NotFound,
    OfferClosed,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from app.models import Alert, Assignment
from app.policy.alerts import staff_fields
from app.schemas.common import Page
from app.schemas.dispatch import AssignmentRead, BreakRequest, DeclineRequest

router = APIRouter(prefix="/v1/assignments", tags=["dispatch"])
_ERRORS = error_responses(Unauthenticated, Forbidden, NotFound, ValidationFailed)
_STATUS_SETS = {
    "open": ("offered", "accepted"),
    "offered": ("offered",),
    "accepted": ("accepted",),
    "closed": ("declined", "expired", "withdrawn", "lapsed", "released", "completed"),
}
STAFF_WHO_ANSWER = ("counselor", "paralegal", "transit_staff", "supervisor", "admin")


@router.get(
    "",
    summary="My unit's offers and claims (supervisors: every unit's)",
    description=(
        "Newest first. `status=open` (default) lists what needs attention now: offers to "
        "accept or decline and claims being worked. Supervisors may filter by `unit`."
    ),
    response_model=Page[AssignmentRead],
    responses=_ERRORS,
)
async def get_assignments(
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
    paging: Paging,
    status: Annotated[Literal["open", "offered", "accepted", "closed"], Query()] = "open",
    unit: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[AssignmentRead]:
    staff = require_staff(principal, *STAFF_WHO_ANSWER)
    items, cursor = await list_assignments(
        session,
        staff=staff,
        statuses=_STATUS_SETS[status],
        unit_code=unit,
        limit=paging.limit,
        cursor=paging.cursor,
        now=context.clock.now(),
    )
    return Page[AssignmentRead](items=items, next_cursor=cursor.encode() if cursor else None)


async def _read(session: Session, staff: StaffPrincipal, leg_id: uuid.UUID) -> AssignmentRead:
    leg = await session.get(Assignment, leg_id)
    assert leg is not None
    alert = await session.get(Alert, leg.alert_id)
    # The answer to its own accept or decline: pseudonymous for transit staff like the list.
    return assignment_read(leg, alert, fields=staff_fields(staff, holder=False))


@router.post(
    "/{assignment_id}/accept",
    summary="Accept an offer: claim the alert",
    description=(
        "The first acceptance wins; a second gets `claim-held` naming the holder. The claim is a "
        "lease (10 minutes by default) renewed by any action on the alert and by `heartbeat`; a "
        "claim that goes quiet is offered again. Accepting twice is harmless."
    ),
    response_model=AssignmentRead,
    responses={**_ERRORS, **error_responses(ClaimHeld, OfferClosed, AlertClosed)},
)
async def post_accept(
    assignment_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> AssignmentRead:
    staff = require_staff(principal, *STAFF_WHO_ANSWER)
    leg = await claims.accept(
        session,
        assignment_id=assignment_id,
        staff=staff,
        dispatch=dispatch_of(context),
        now=context.clock.now(),
    )
    await session.commit()
    return await _read(session, staff, leg.id)


@router.post(
    "/{assignment_id}/decline",
    summary="Decline an offer, with a reason",
    description="The dispatcher moves on at once to the next step of the ladder.",
    response_model=AssignmentRead,
    responses={**_ERRORS, **error_responses(OfferClosed, UnsupportedMediaType)},
)
async def post_decline(
    assignment_id: uuid.UUID,
    body: DeclineRequest,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> AssignmentRead:
    staff = require_staff(principal, *STAFF_WHO_ANSWER)
    leg = await claims.decline(
        session,
        assignment_id=assignment_id,
        staff=staff,
        reason=body.reason,
        dispatch=dispatch_of(context),
        now=context.clock.now(),
    )
    await session.commit()
    return await _read(session, staff, leg.id)


@router.post(
    "/{assignment_id}/heartbeat",
    summary="Still working: renew the claim's lease",
    description="The console sends this while the alert is open, so a long call keeps it.",
    response_model=AssignmentRead,
    responses={**_ERRORS, **error_responses(OfferClosed, AlertClosed)},
)
async def post_heartbeat(
    assignment_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> AssignmentRead:
    staff = require_staff(principal, *STAFF_WHO_ANSWER)
    leg = await claims.heartbeat(
        session,
        assignment_id=assignment_id,
        staff=staff,
        dispatch=dispatch_of(context),
        now=context.clock.now(),
    )
    await session.commit()
    return await _read(session, staff, leg.id)


@router.post(
    "/{assignment_id}/break",
    summary="Break a claim (supervisor), with a reason; the unit is offered the alert again",
    response_model=AssignmentRead,
    responses={**_ERRORS, **error_responses(OfferClosed, AlertClosed, UnsupportedMediaType)},
)
async def post_break(
    assignment_id: uuid.UUID,
    body: BreakRequest,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> AssignmentRead:
    staff = require_staff(principal, "supervisor", "admin")
    await claims.break_claim(
        session,
        assignment_id=assignment_id,
        staff=staff,
        reason=body.reason,
        dispatch=dispatch_of(context),
        now=context.clock.now(),
    )
    await session.commit()
    return await _read(session, staff, assignment_id)

"""Working an alert: progress, resolution, notes, the routing explanation, the timeline, and the
supervisor's reassignment."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import StaffPrincipal, require_staff
from app.api.deps import Context, CurrentPrincipal, Session, error_responses
from app.audit import record
from app.dispatch import claims, progress
from app.dispatch.views import actions_of, notes_of, passed_on, routing_of, timeline_of
from app.dispatch.worker import dispatch_of
from app.errors import (
    AlertClosed,
    ClaimHeld,
    Forbidden,
    IllegalTransition,
    NotFound,
    OfferClosed,
    PassedOn,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from app.ingestion.views import access_view
from app.models import Alert
from app.policy.alerts import (
    AlertAccess,
    Denied,
    access_to,
    audit_read,
    open_alert,
    read_detail,
)
from app.schemas.alerts import AlertStaffView
from app.schemas.dispatch import (
    LegalHoldRequest,
    NoteCreate,
    NoteRead,
    PassedOnRead,
    ProgressRequest,
    ReassignRequest,
    ReopenRequest,
    ResolveRequest,
    RoutingRead,
    TimelineEntry,
)

router = APIRouter(prefix="/v1/alerts", tags=["dispatch"])
_ERRORS = error_responses(Unauthenticated, Forbidden, NotFound, PassedOn, ValidationFailed)
_WRITE_ERRORS = {
    **_ERRORS,
    **error_responses(AlertClosed, IllegalTransition, UnsupportedMediaType),
}
_WORKERS = ("counselor", "paralegal", "transit_staff", "supervisor", "admin")


async def _read(
    session: AsyncSession, context: Context, staff: StaffPrincipal, alert_id: uuid.UUID, what: str
) -> tuple[Alert, AlertAccess]:
    """Open the alert through the policy and audit the read (``what``: notes, routing...)."""
    now = context.clock.now()
    alert, access = await open_alert(session, staff, alert_id, now=now)
    record(
        session,
        principal=staff,
        action=f"alert.{what}_read",
        object_type="alert",
        object_id=alert.id,
        at=now,
        detail=read_detail(access),
    )
    return alert, access


async def _view_after(
    session: AsyncSession, context: Context, staff: StaffPrincipal, alert: Alert
) -> AlertStaffView:
    """The alert as the caller sees it after their change (a restricted record stays so); the
    answer shows personal data, so it is audited as a read like ``GET /v1/alerts/{id}``."""
    now = context.clock.now()
    access = await access_to(session, staff, alert, now=now)
    if isinstance(access, Denied):  # cannot happen: the change itself asked the policy
        raise NotFound()
    audit_read(session, staff, alert.id, access, at=now, via="answer")
    view = access_view(alert, access, geo=context.geo, keyring=context.keyring)
    actions = await actions_of(
        session, [alert], staff, now=now, reopen_window_s=context.settings.dispatch.reopen_window_s
    )
    view.actions = actions[alert.id]
    return view


@router.post(
    "/{alert_id}/progress",
    summary="Record a milestone: contacted, on scene, handed over",
    description=(
        "For whoever holds a claim on the alert (or a supervisor). Each milestone is stamped "
        "once with the server's time; recording it again changes nothing. Renews the lease."
    ),
    response_model=AlertStaffView,
    responses=_WRITE_ERRORS,
)
async def post_progress(
    alert_id: uuid.UUID,
    body: ProgressRequest,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> AlertStaffView:
    staff = require_staff(principal, *_WORKERS)
    alert = await progress.record_progress(
        session,
        alert_id=alert_id,
        staff=staff,
        milestone=body.milestone,
        handed_over_to=body.handed_over_to,
        dispatch=dispatch_of(context),
        now=context.clock.now(),
    )
    view = await _view_after(session, context, staff, alert)
    await session.commit()
    return view


@router.post(
    "/{alert_id}/hand-to-counselor",
    summary="Transit staff: hand the victim to the counselor (ends your leg)",
    description=(
        "For whoever holds the alert's transit leg. The leg ends (it leaves the active queue; "
        "`GET /v1/assignments?status=closed` keeps it) and on scene is recorded if it was not; "
        "whoever holds the complaint post's or central desk's leg takes it up "
        "(`assignment.taken_up`, now or when they accept). Doing it again changes nothing. "
        "`POST /progress` with `handed_over` to `counselor` from transit staff does the same."
    ),
    response_model=AlertStaffView,
    responses=_WRITE_ERRORS,
)
async def post_hand_to_counselor(
    alert_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> AlertStaffView:
    staff = require_staff(principal, *_WORKERS)
    alert = await progress.hand_to_counselor(
        session, alert_id=alert_id, staff=staff, now=context.clock.now()
    )
    view = await _view_after(session, context, staff, alert)
    await session.commit()
    return view


@router.post(
    "/{alert_id}/resolve",
    summary="Close the alert with a disposition",
    description=(
        "For the complaint post or central desk holding the alert, or a supervisor. Open offers "
        "are withdrawn; the phone shows the alert as ended (a duress-cancelled one stays "
        "'cancelled')."
    ),
    response_model=AlertStaffView,
    responses=_WRITE_ERRORS,
)
async def post_resolve(
    alert_id: uuid.UUID,
    body: ResolveRequest,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> AlertStaffView:
    staff = require_staff(principal, *_WORKERS)
    alert = await progress.resolve(
        session,
        alert_id=alert_id,
        staff=staff,
        disposition=body.disposition,
        now=context.clock.now(),
    )
    view = await _view_after(session, context, staff, alert)
    await session.commit()
    return view


@router.post(
    "/{alert_id}/reopen",
    summary="Reopen a resolved alert (supervisor), with a reason; audited",
    description=(
        "Within `dispatch.reopen_window_s` (24 h by default) of its resolution. The alert goes "
        "back to where its work stood and is offered again to the unit that held the case (else "
        "the central desk). Nothing the victim's phone sees changes: its view and stream still "
        "show the alert as ended, and a new press never joins it. Refused with the same `reason` "
        "the alert's `actions.reopen` shows."
    ),
    response_model=AlertStaffView,
    responses=_WRITE_ERRORS,
)
async def post_reopen(
    alert_id: uuid.UUID,
    body: ReopenRequest,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> AlertStaffView:
    staff = require_staff(principal, "supervisor", "admin")
    alert = await progress.reopen(
        session,
        alert_id=alert_id,
        staff=staff,
        reason=body.reason,
        dispatch=dispatch_of(context),
        now=context.clock.now(),
    )
    view = await _view_after(session, context, staff, alert)
    await session.commit()
    return view


@router.post(
    "/{alert_id}/notes",
    status_code=201,
    summary="Add a note (encrypted at rest)",
    response_model=NoteRead,
    responses=_WRITE_ERRORS,
)
async def post_note(
    alert_id: uuid.UUID,
    body: NoteCreate,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> NoteRead:
    staff = require_staff(principal, *_WORKERS)
    note = await progress.add_note(
        session,
        alert_id=alert_id,
        staff=staff,
        text=body.text,
        keyring=context.keyring,
        dispatch=dispatch_of(context),
        now=context.clock.now(),
    )
    await session.commit()
    return NoteRead(
        id=note.id, author_id=note.author_id, text=body.text, created_at=note.created_at
    )


@router.get(
    "/{alert_id}/notes",
    summary="The alert's notes (reads are audited)",
    response_model=list[NoteRead],
    responses=_ERRORS,
)
async def get_notes(
    alert_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> list[NoteRead]:
    staff = require_staff(principal, "counselor", "paralegal", "supervisor", "admin")
    alert, access = await _read(session, context, staff, alert_id, "notes")
    notes = await notes_of(session, alert, access, context.keyring)
    await session.commit()
    return notes


@router.get(
    "/{alert_id}/routing",
    summary="Why this unit: every routing decision with candidates, ETAs and skipped units",
    response_model=RoutingRead,
    responses=_ERRORS,
)
async def get_routing(
    alert_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> RoutingRead:
    staff = require_staff(principal, *_WORKERS)
    # Distances to every post are enough to work out where the victim is: audited like a read.
    alert, access = await _read(session, context, staff, alert_id, "routing")
    routing = await routing_of(session, alert, access)
    await session.commit()
    return routing


@router.get(
    "/{alert_id}/passed-on",
    summary="Where the alert went after your unit's leg closed (unit codes only)",
    description=(
        "For a unit that was offered the alert: whether its own leg is still open, and which "
        "units hold open legs now. The console shows \"passed to <unit>\" with it when an "
        "on-call link is opened after the unit's leg has closed. Nothing else about the alert "
        "is disclosed; a unit never offered the alert gets 404."
    ),
    response_model=PassedOnRead,
    responses=_ERRORS,
)
async def get_passed_on(
    alert_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> PassedOnRead:
    staff = require_staff(principal, *_WORKERS)
    return await passed_on(session, staff=staff, alert_id=alert_id, now=context.clock.now())


@router.get(
    "/{alert_id}/timeline",
    summary="Every event of the alert in order, with server times",
    response_model=list[TimelineEntry],
    responses=_ERRORS,
)
async def get_timeline(
    alert_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> list[TimelineEntry]:
    staff = require_staff(principal, *_WORKERS)
    alert, access = await _read(session, context, staff, alert_id, "timeline")
    timeline = await timeline_of(session, alert, access)
    await session.commit()
    return timeline


@router.post(
    "/{alert_id}/reassign",
    summary="Send the alert to another unit (supervisor), with a reason; audited",
    response_model=RoutingRead,
    responses={**_WRITE_ERRORS, **error_responses(ClaimHeld, OfferClosed)},
)
async def post_reassign(
    alert_id: uuid.UUID,
    body: ReassignRequest,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> RoutingRead:
    staff = require_staff(principal, "supervisor", "admin")
    await open_alert(session, staff, alert_id, now=context.clock.now())  # 404 like any read
    await claims.reassign(
        session,
        alert_id=alert_id,
        unit_code=body.unit_code,
        staff=staff,
        reason=body.reason,
        dispatch=dispatch_of(context),
        now=context.clock.now(),
    )
    await session.commit()
    alert, access = await open_alert(session, staff, alert_id, now=context.clock.now())
    return await routing_of(session, alert, access)


@router.post(
    "/{alert_id}/legal-hold",
    status_code=204,
    summary="Put the alert on legal hold, or release it (supervisor); with a reason, audited",
    description=(
        "An alert on hold keeps its personal data past the retention period (cancelled, "
        "accidental and drill alerts are otherwise purged after it)."
    ),
    response_class=Response,
    responses=_WRITE_ERRORS,
)
async def post_legal_hold(
    alert_id: uuid.UUID,
    body: LegalHoldRequest,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> Response:
    staff = require_staff(principal, "supervisor", "admin")
    now = context.clock.now()
    alert, _ = await open_alert(session, staff, alert_id, now=now, lock=True)
    if alert.purged_at is not None and body.hold:
        raise AlertClosed("Its personal data was already purged: there is nothing to hold.")
    alert.legal_hold = body.hold
    record(
        session,
        principal=staff,
        action="alert.legal_hold" if body.hold else "alert.legal_hold_released",
        object_type="alert",
        object_id=alert.id,
        at=now,
        detail={"reason": body.reason},
    )
    await session.commit()
    return Response(status_code=204)

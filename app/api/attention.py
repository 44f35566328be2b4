"""Attention items: the supervisors' list of what needs them, and acknowledging one; and every
staff member's inbox of the messages sent to them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Response

from app.access import require_staff
from app.api.deps import Context, CurrentPrincipal, Paging, Session, error_responses
from app.audit import record
from app.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from app.models import AttentionItem
from app.notify.inbox import inbox, mark_read
from app.schemas.attention import AttentionItemRead, InboxMessage, InboxPage, InboxRead
from app.schemas.common import Page
from app.sla.attention import acknowledge, open_items

router = APIRouter(prefix="/v1", tags=["attention"])


def _read(item: AttentionItem, case_code: str) -> AttentionItemRead:
    return AttentionItemRead(
        id=item.id,
        alert_id=item.alert_id,
        case_code=case_code,
        kind=item.kind,
        rank=item.rank,
        detail=item.detail,
        raised_at=item.raised_at,
        cleared_at=item.cleared_at,
        clear_reason=item.clear_reason,
    )


@router.get(
    "/attention",
    summary="Open attention items, newest first (supervisors and admins)",
    description=(
        "What on an active alert needs a supervisor, as the server ranks it: kept open until a "
        "supervisor acknowledges it or the alert closes, so a board opened or reloaded at any "
        "time shows all of it. The stream adds `attention.raised` and `attention.cleared`."
    ),
    response_model=Page[AttentionItemRead],
    responses=error_responses(Unauthenticated, Forbidden, ValidationFailed),
)
async def get_attention(
    session: Session, principal: CurrentPrincipal, paging: Paging
) -> Page[AttentionItemRead]:
    require_staff(principal, "supervisor", "admin")
    rows, following = await open_items(session, limit=paging.limit, cursor=paging.cursor)
    return Page[AttentionItemRead](
        items=[_read(item, code) for item, code in rows],
        next_cursor=following.encode() if following else None,
    )


@router.post(
    "/attention/{item_id}/acknowledge",
    summary="Acknowledge an attention item: a supervisor has dealt with it; audited",
    description=(
        "The item leaves every board (`attention.cleared`, reason `acknowledged`). It is not "
        "raised again for the same occurrence; a new one (another clock breached, another "
        "press) raises a new item. An item no longer open answers 409."
    ),
    response_model=AttentionItemRead,
    responses=error_responses(Unauthenticated, Forbidden, NotFound, Conflict),
)
async def post_acknowledge(
    item_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> AttentionItemRead:
    staff = require_staff(principal, "supervisor")
    now = context.clock.now()
    item, case_code = await acknowledge(session, item_id=item_id, staff_id=staff.user_id, now=now)
    record(
        session,
        principal=staff,
        action="attention.acknowledged",
        object_type="alert",
        object_id=item.alert_id,
        at=now,
        detail={"item_id": str(item.id), "kind": item.kind, "key": item.key},
    )
    await session.commit()
    return _read(item, case_code)


@router.get(
    "/me/inbox",
    summary="The messages sent to me, newest first, with how many are unread",
    description=(
        "Every message the server queued for you (an offer, an escalation, a breach, a 112 "
        "hand-off, a stalled loop) is also here, whatever became of its delivery: with the "
        "default `log` provider nothing reaches a phone, and a phone may be off."
    ),
    response_model=InboxPage,
    responses=error_responses(Unauthenticated, Forbidden, ValidationFailed),
)
async def get_inbox(
    session: Session,
    principal: CurrentPrincipal,
    paging: Paging,
    unread: bool = Query(False, description="Only unread messages"),
) -> InboxPage:
    staff = require_staff(principal)
    rows, following, count = await inbox(
        session,
        recipient_id=staff.user_id,
        limit=paging.limit,
        cursor=paging.cursor,
        unread_only=unread,
    )
    return InboxPage(
        items=[
            InboxMessage(
                id=row.id,
                kind=row.kind,
                text=row.text,
                alert_id=row.alert_id,
                created_at=row.created_at,
                delivery=row.status,
                channel=row.channel,
                read_at=row.read_at,
            )
            for row in rows
        ],
        next_cursor=following.encode() if following else None,
        unread=count,
    )


@router.post(
    "/me/inbox/read",
    status_code=204,
    summary="Mark messages of my inbox read (all of them when no ids are given)",
    response_class=Response,
    responses=error_responses(Unauthenticated, Forbidden, UnsupportedMediaType, ValidationFailed),
)
async def post_inbox_read(
    body: InboxRead, session: Session, context: Context, principal: CurrentPrincipal
) -> Response:
    staff = require_staff(principal)
    await mark_read(session, recipient_id=staff.user_id, ids=body.ids, now=context.clock.now())
    await session.commit()
    return Response(status_code=204)

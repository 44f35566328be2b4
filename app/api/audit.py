"""Asking the audit trail (supervisors: entries about alerts they may see; admins: administrative
entries). The service, ``app.audit_query``, applies need-to-know to the trail itself."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime

from app.access import require_staff
from app.api.deps import Context, CurrentPrincipal, Paging, Session, error_responses
from app.audit import record
from app.audit_query import ASKERS, AuditFilter, query_audit
from app.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed
from app.schemas.audit import AuditEntryRead, AuditKind
from app.schemas.common import Page

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get(
    "/audit",
    summary="Who read, changed, exported or was refused which record, and when",
    description=(
        "Newest first. Supervisors see entries about alerts, except a restricted record's "
        "(those only while they hold a break-glass grant on it); admins see administrative "
        "entries (accounts, units, rosters, integrators, restores), never a victim's record. "
        "`alert` takes an alert id or a case code. `view=subject` answers a data-subject "
        "request (UU PDP Art. 32): roles, units, times and kinds, never staff names. Every "
        "query is itself audited. `format=csv` for a spreadsheet (one page)."
    ),
    responses={
        200: {"content": {"application/json": {}, "text/csv": {}}},
        **error_responses(Unauthenticated, Forbidden, NotFound, ValidationFailed),
    },
)
async def get_audit(
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
    paging: Paging,
    alert: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    kind: Annotated[list[AuditKind] | None, Query()] = None,
    view: Annotated[Literal["full", "subject"], Query()] = "full",
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    asker = require_staff(principal, *ASKERS)
    now = context.clock.now()
    filters = AuditFilter(
        alert=alert, actor=actor, since=since, until=until,
        **({"kinds": frozenset(kind)} if kind else {}),
    )
    rows, cursor = await query_audit(
        session, asker=asker, filters=filters, limit=paging.limit, cursor=paging.cursor,
        now=now, subject=view == "subject",
    )
    record(session, principal=asker, action="audit.query", object_type="audit",
           object_id=None, at=now, detail={**filters.described(), "view": view})
    await session.commit()
    items = [AuditEntryRead.model_validate(asdict(row)) for row in rows]
    if format == "csv":
        return Response(as_csv(items), media_type="text/csv; charset=utf-8")
    return Page[AuditEntryRead](items=items, next_cursor=cursor.encode() if cursor else None)


def as_csv(items: list[AuditEntryRead]) -> str:
    out = io.StringIO()
    names = list(AuditEntryRead.model_fields)
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for item in items:
        writer.writerow(item.model_dump(mode="json"))
    return out.getvalue()

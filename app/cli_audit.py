"""``sigap audit query``: who read, changed, exported or was refused which record.

sigap audit query --as USERNAME [--alert ID|CASE_CODE] [--actor NAME] [--from T] [--to T]
                  [--kind read|write|export|denied|break_glass ...] [--subject] [--csv]

The operator asks on behalf of a named supervisor or admin, and the answer is what that account
may see (``app.audit_query``: admins get administrative entries only; a restricted record's
entries only through its break-glass grant). The query is audited as both: the operating-system
account that ran it and the staff account it asked as.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import StaffPrincipal
from app.audit import ShellOperator, record
from app.audit_query import KINDS, AuditFilter, AuditRow, query_audit
from app.cli_support import fail, local, print_rows, run, with_zone
from app.config import Settings
from app.errors import DomainError

_PAGE = 100
_MAX_ROWS = 10_000


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone (add Z or +07:00)")
    return value


async def _asker(session: AsyncSession, username: str) -> StaffPrincipal:
    from app.identity.principal import staff_principal
    from app.models import StaffUser

    asker = await staff_principal(session, StaffUser.username == username)
    if asker is None:
        raise DomainError(f"no active account {username!r} (see `sigap user list`)")
    return asker


def cmd_audit_query(args: argparse.Namespace, settings: Settings) -> int:
    try:
        filters = AuditFilter(
            alert=args.alert, actor=args.actor, since=_when(args.since), until=_when(args.until),
            **({"kinds": frozenset(args.kind)} if args.kind else {}),
        )
    except ValueError as exc:
        return fail(str(exc))
    now = datetime.now(UTC)

    async def work(session: AsyncSession) -> list[AuditRow]:
        asker = await _asker(session, args.as_user)
        rows: list[AuditRow] = []
        cursor = None
        while len(rows) < _MAX_ROWS:
            page, cursor = await query_audit(
                session, asker=asker, filters=filters, limit=_PAGE, cursor=cursor, now=now,
                subject=args.subject,
            )
            rows.extend(page)
            if cursor is None:
                break
        record(session, principal=ShellOperator.current(), action="audit.query",
               object_type="audit", object_id=None, at=now,
               detail={**filters.described(), "as": str(asker.user_id),
                       "view": "subject" if args.subject else "full"})
        return rows

    try:
        rows, zone = run(settings, with_zone(work))
    except DomainError as exc:
        return fail(exc.detail)
    if args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(AuditRow.__dataclass_fields__),
                                lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in asdict(row).items()})
        return 0
    print_rows(
        (
            f"{local(r.at, zone)}  {r.kind:<11} {r.action:<24} "
            f"{_who(r):<40} {r.case_code or r.object_type}"
            for r in rows
        ),
        empty="none",
    )
    return 0


def _who(row: AuditRow) -> str:
    where = f"{row.actor_role or row.actor_type}@{row.actor_unit or '-'}"
    return f"{row.actor} ({where})" if row.actor else where


def add_query_parser(audit: Any) -> None:
    query = audit.add_parser(
        "query", help="who read, changed, exported or was refused which record (need-to-know)"
    )
    query.add_argument("--as", dest="as_user", required=True,
                       help="the supervisor or admin on whose behalf (their need-to-know applies)")
    query.add_argument("--alert", help="an alert id or case code")
    query.add_argument("--actor", help="a staff member's username or an integrator's client id")
    query.add_argument("--from", dest="since", help="ISO 8601 with zone")
    query.add_argument("--to", dest="until", help="ISO 8601 with zone")
    query.add_argument("--kind", action="append", choices=KINDS)
    query.add_argument("--subject", action="store_true",
                       help="a data-subject answer: roles, units, times and kinds; no names")
    query.add_argument("--csv", action="store_true", help="CSV on standard output")
    query.set_defaults(func=cmd_audit_query)

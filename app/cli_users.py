"""``sigap user …``: staff accounts for operators at a shell.

sigap user create USERNAME --role ROLE [--unit CODE]   password read from standard input
sigap user list [--role ROLE] [--unit CODE] [--disabled]
sigap user disable USERNAME | enable USERNAME
sigap user reset-password USERNAME                    password read from standard input
sigap user set-role USERNAME --role ROLE [--unit CODE]

The same services as the API and the console do the work, so the same rules hold (a post's
counselor needs the post's unit; the last active admin cannot be disabled or demoted; a reset
password ends every sign-in of the account). Each change is audited as the operating-system
account that ran the command.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import ShellOperator, record
from app.cli_support import fail, local, print_rows, run, with_zone
from app.config import Settings
from app.errors import DomainError
from app.schemas.identity import ROLES, PasswordReset, UserCreate, UserRead, UserUpdate


def read_password() -> str:
    """Twice at a terminal; one line from a pipe (scripts, and the README's walkthrough)."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Again: "):
            raise SystemExit("error: the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def _invalid(exc: ValidationError) -> int:
    error = exc.errors()[0]
    where = error["loc"][0] if error["loc"] else "input"
    return fail(f"{where}: {error['msg']}")


async def _user_id(session: AsyncSession, username: str) -> uuid.UUID:
    from app.models import StaffUser

    user_id = await session.scalar(select(StaffUser.id).where(StaffUser.username == username))
    if user_id is None:
        raise DomainError(f"no account {username!r} (see `sigap user list`)")
    return user_id


def cmd_user_create(args: argparse.Namespace, settings: Settings) -> int:
    from app.identity.staff import create_user
    from app.security.hashing import SecretHasher

    try:
        data = UserCreate(
            username=args.username,
            password=read_password(),
            role=args.role,
            unit_code=args.unit,
            display_name=args.display_name,
            sex=args.sex,
        )
    except ValidationError as exc:
        return _invalid(exc)
    hasher = SecretHasher(settings.security)
    now = datetime.now(UTC)

    async def work(session: AsyncSession) -> Any:
        user = await create_user(session, data=data, hasher=hasher, now=now)
        record(session, principal=ShellOperator.current(), action="user.create",
               object_type="staff_user", object_id=user.id, at=now,
               detail={"role": data.role})
        return user

    try:
        user = run(settings, work)
    except DomainError as exc:
        return fail(exc.detail)
    print(f"created {user.username} ({user.role}) id {user.id}")
    return 0


def cmd_user_list(args: argparse.Namespace, settings: Settings) -> int:
    from app.identity.staff import list_users

    async def work(session: AsyncSession) -> list[UserRead]:
        users: list[UserRead] = []
        cursor = None
        while True:  # every account, a page at a time (the service's pages are bounded)
            page, cursor = await list_users(session, limit=100, cursor=cursor)
            users.extend(page)
            if cursor is None:
                return users

    users, zone = run(settings, with_zone(work))
    shown = [
        u for u in users
        if (args.role is None or u.role == args.role)
        and (args.unit is None or u.unit_code == args.unit)
        and (not args.disabled or u.disabled)
    ]
    print_rows(
        (
            f"{u.username:<24} {u.role:<14} {u.unit_code or '-':<14} "
            f"{'disabled' if u.disabled else 'active':<9} created {local(u.created_at, zone)}"
            for u in shown
        ),
        empty="none",
    )
    return 0


def _update(settings: Settings, username: str, data: UserUpdate, action: str) -> UserRead:
    from app.identity.staff import read_user, update_user

    now = datetime.now(UTC)

    async def work(session: AsyncSession) -> UserRead:
        user = await update_user(
            session, user_id=await _user_id(session, username), data=data, now=now
        )
        record(session, principal=ShellOperator.current(), action=action,
               object_type="staff_user", object_id=user.id, at=now,
               detail={"fields": sorted(data.model_fields_set)})
        return await read_user(session, user)

    return run(settings, work)


def _set_disabled(args: argparse.Namespace, settings: Settings, disabled: bool) -> int:
    try:
        user = _update(settings, args.username, UserUpdate(disabled=disabled), "user.update")
    except DomainError as exc:
        return fail(exc.detail)
    print(f"{user.username}: {'disabled' if user.disabled else 'active'}")
    return 0


def cmd_user_disable(args: argparse.Namespace, settings: Settings) -> int:
    return _set_disabled(args, settings, True)


def cmd_user_enable(args: argparse.Namespace, settings: Settings) -> int:
    return _set_disabled(args, settings, False)


def cmd_user_set_role(args: argparse.Namespace, settings: Settings) -> int:
    try:
        # Without --unit the account keeps its unit, and the service judges the pair.
        fields = {"role": args.role} | ({"unit_code": args.unit} if args.unit else {})
        data = UserUpdate.model_validate(fields)
    except ValidationError as exc:
        return _invalid(exc)
    try:
        user = _update(settings, args.username, data, "user.update")
    except DomainError as exc:
        return fail(exc.detail)
    print(f"{user.username}: {user.role} at {user.unit_code or '-'}")
    return 0


def cmd_user_reset_password(args: argparse.Namespace, settings: Settings) -> int:
    from app.identity.staff import read_user, reset_password
    from app.security.hashing import SecretHasher

    try:
        data = PasswordReset(password=read_password())
    except ValidationError as exc:
        return _invalid(exc)
    hasher = SecretHasher(settings.security)
    now = datetime.now(UTC)

    async def work(session: AsyncSession) -> UserRead:
        user = await reset_password(
            session, user_id=await _user_id(session, args.username), password=data.password,
            hasher=hasher, now=now,
        )
        record(session, principal=ShellOperator.current(), action="user.password_reset",
               object_type="staff_user", object_id=user.id, at=now, detail={})
        return await read_user(session, user)

    try:
        user = run(settings, work)
    except DomainError as exc:
        return fail(exc.detail)
    print(f"{user.username}: new password set; every sign-in of the account has ended")
    return 0


def add_parsers(sub: Any) -> None:
    user = sub.add_parser("user", help="staff accounts").add_subparsers(
        dest="user_command", required=True
    )
    create = user.add_parser("create", help="create a staff account; password from standard input")
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--unit", help="post BPS code, transjakarta, mrt, lrt, or central")
    create.add_argument("--display-name")
    create.add_argument("--sex", choices=("female", "male"))
    create.set_defaults(func=cmd_user_create)

    listing = user.add_parser("list", help="every account, or those matching the filters")
    listing.add_argument("--role", choices=ROLES)
    listing.add_argument("--unit", help="only this unit's accounts")
    listing.add_argument("--disabled", action="store_true", help="only disabled accounts")
    listing.set_defaults(func=cmd_user_list)

    disable = user.add_parser("disable", help="refuse the account's sign-in and end its sessions")
    disable.add_argument("username")
    disable.set_defaults(func=cmd_user_disable)
    enable = user.add_parser("enable", help="let a disabled account sign in again")
    enable.add_argument("username")
    enable.set_defaults(func=cmd_user_enable)

    reset = user.add_parser(
        "reset-password", help="a new password from standard input; ends every sign-in"
    )
    reset.add_argument("username")
    reset.set_defaults(func=cmd_user_reset_password)

    role = user.add_parser("set-role", help="change the account's role (and unit)")
    role.add_argument("username")
    role.add_argument("--role", required=True, choices=ROLES)
    role.add_argument("--unit", help="the unit for roles that work at one")
    role.set_defaults(func=cmd_user_set_role)

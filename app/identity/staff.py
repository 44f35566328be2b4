"""Staff accounts: creation, changes, listing and password checks."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import LastAdmin, NotFound, UsernameTaken, ValidationFailed
from app.events import announce_access_changed
from app.identity import device_cookies
from app.identity.throttle import (
    UNLOCK_FAILURES,
    SignInPolicy,
    SignInThrottled,
    admit,
    forget_unknown_lane,
    record_failure,
    record_success,
)
from app.models import RefreshToken, SignInUnlock, StaffUser, Unit
from app.pagination import Cursor
from app.schemas.identity import UserCreate, UserRead, UserUpdate
from app.security.hashing import SecretHasher

# Which unit kinds each role may belong to; supervisors and admins may have none (province-wide).
ROLE_UNIT_KINDS: dict[str, frozenset[str]] = {
    "counselor": frozenset({"post", "central_desk"}),
    "paralegal": frozenset({"post", "central_desk"}),
    "transit_staff": frozenset({"transit_desk"}),
    "supervisor": frozenset({"central_desk"}),
    "admin": frozenset({"central_desk"}),
}
UNIT_REQUIRED = frozenset({"counselor", "paralegal", "transit_staff"})


async def _resolve_unit(session: AsyncSession, role: str, unit_code: str | None) -> Unit | None:
    if unit_code is None:
        if role in UNIT_REQUIRED:
            raise _unit_error(f"A {role} must belong to a unit (a post, partner or central).")
        return None
    unit = await session.scalar(select(Unit).where(Unit.code == unit_code))
    if unit is None:
        raise _unit_error(f"No unit with code {unit_code!r}.")
    if unit.kind not in ROLE_UNIT_KINDS[role]:
        raise _unit_error(f"A {role} cannot belong to a {unit.kind.replace('_', ' ')}.")
    return unit


def _unit_error(message: str) -> ValidationFailed:
    return ValidationFailed(
        message, extra={"errors": [{"loc": ["body", "unit_code"], "msg": message}]}
    )


async def create_user(
    session: AsyncSession, *, data: UserCreate, hasher: SecretHasher, now: datetime
) -> StaffUser:
    # Hash before touching the database, so no transaction waits on argon2 where it can help.
    password_hash = await hasher.hash(data.password)
    unit = await _resolve_unit(session, data.role, data.unit_code)
    user = StaffUser(
        id=uuid.uuid4(),
        username=data.username,
        password_hash=password_hash,
        role=data.role,
        unit_id=unit.id if unit else None,
        display_name=data.display_name,
        sex=data.sex,
        phone=data.phone,
        created_at=now,
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise UsernameTaken(f"The username {data.username!r} is taken.") from exc
    return user


async def update_user(
    session: AsyncSession, *, user_id: uuid.UUID, data: UserUpdate, now: datetime
) -> StaffUser:
    user = await session.get(StaffUser, user_id)
    if user is None:
        raise NotFound()
    access_before = (user.role, user.unit_id, user.disabled_at is None)
    role = data.role or user.role
    if user.role == "admin" and user.disabled_at is None and (role != "admin" or data.disabled):
        await _keep_an_admin(session, user)
    if data.role is not None or "unit_code" in data.model_fields_set:
        code = (
            data.unit_code
            if "unit_code" in data.model_fields_set
            else await _unit_code(session, user.unit_id)
        )
        unit = await _resolve_unit(session, role, code)
        user.role, user.unit_id = role, unit.id if unit else None
    if "display_name" in data.model_fields_set:
        user.display_name = data.display_name
    if "sex" in data.model_fields_set:
        user.sex = data.sex
    if "phone" in data.model_fields_set:
        user.phone = data.phone
    if data.disabled is not None:
        user.disabled_at = (user.disabled_at or now) if data.disabled else None
    if (user.role, user.unit_id, user.disabled_at is None) != access_before:
        # Their open streams are checked again at once, in every process, when this commits.
        announce_access_changed(session, subject=f"staff:{user.id}", at=now)
    await session.flush()
    return user


async def _keep_an_admin(session: AsyncSession, leaving: StaffUser) -> None:
    """Refuse to disable or demote the last active admin: nobody could administer the deployment
    (enable accounts, reset passwords) again. The active admins' rows are locked, so two admins
    disabling each other at once cannot both succeed (PostgreSQL; SQLite writes one at a time)."""
    admins = (
        await session.scalars(
            select(StaffUser.id)
            .where(StaffUser.role == "admin", StaffUser.disabled_at.is_(None))
            .order_by(StaffUser.id)
            .with_for_update()
        )
    ).all()
    if not [admin for admin in admins if admin != leaving.id]:
        raise LastAdmin(f"{leaving.username} is the last active admin.")


async def _unit_code(session: AsyncSession, unit_id: uuid.UUID | None) -> str | None:
    if unit_id is None:
        return None
    code: str | None = await session.scalar(select(Unit.code).where(Unit.id == unit_id))
    return code


@dataclass(frozen=True)
class SignInDevice:
    """What the caller knows of the device signing in: the deployment's device-token key and
    the token it presented (cookie, header or form field), if any; and a one-time unlock code
    a supervisor issued, if typed."""

    key: bytes
    token: str | None = None
    """From an app: the header or form field."""
    cookies: Mapping[str, str] = field(default_factory=dict)
    """From a browser: its cookies (one device cookie per account it signed in to)."""
    unlock_code: str | None = None

    def token_for(self, user_id: uuid.UUID) -> str | None:
        return self.token or self.cookies.get(device_cookies.cookie_name(user_id))


async def authenticate_password(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    network: str,
    hasher: SecretHasher,
    policy: SignInPolicy,
    now: datetime,
    device: SignInDevice | None = None,
) -> StaffUser | None:
    """The account, or None for a wrong username or password or a disabled account; raises
    SignInThrottled while the attempt's lane must wait (``app.identity.throttle``): the device
    token's own, a one-time unlock's, or the account's unknown-devices lane.

    Commits twice: the charged attempt *before* the password is hashed (concurrent attempts must
    see it, and no transaction, on SQLite the database's write lock, may stay open while argon2
    runs), and a failure's record after. On success the caller commits what it issues.
    """
    user = await session.scalar(select(StaffUser).where(StaffUser.username == username))
    known, unlock = None, None
    if user is not None and device is not None:
        known = device_cookies.verify(
            device.key,
            device.token_for(user.id),
            user_id=user.id,
            password_hash=user.password_hash,
            lifetime=policy.device_lifetime,
            now=now,
        )
        if known is None and device.unlock_code:
            unlock = await usable_unlock(session, user_id=user.id, code=device.unlock_code, now=now)
    try:
        admission = await admit(
            session,
            username=username,
            network=network,
            policy=policy,
            now=now,
            device_nonce=known.nonce if known else None,
            unlock=unlock,
        )
    except SignInThrottled:
        await session.commit()  # the refused attempt still counts against its network
        raise
    await session.commit()
    # Verify even for unknown users so response time does not reveal which usernames exist.
    ok = await hasher.verify(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled_at is not None:
        await record_failure(session, admission=admission, user=user, policy=policy, now=now)
        await session.commit()
        return None
    await record_success(session, admission=admission, user_id=user.id, now=now)
    return user


def unlock_digest(user_id: uuid.UUID, code: str) -> str:
    normalised = "".join(ch for ch in code if ch.isalnum())
    return hashlib.sha256(f"sign-in-unlock|{user_id}|{normalised}".encode()).hexdigest()


async def usable_unlock(
    session: AsyncSession, *, user_id: uuid.UUID, code: str, now: datetime
) -> SignInUnlock | None:
    """The account's unlock with this code, locked, if unused, unexpired and not failed out."""
    unlock: SignInUnlock | None = await session.scalar(
        select(SignInUnlock)
        .where(
            SignInUnlock.code_hash == unlock_digest(user_id, code),
            SignInUnlock.user_id == user_id,
            SignInUnlock.used_at.is_(None),
            SignInUnlock.expires_at > now,
            SignInUnlock.failures < UNLOCK_FAILURES,
        )
        .with_for_update()
    )
    return unlock


async def issue_unlock(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    issued_by: uuid.UUID,
    policy: SignInPolicy,
    now: datetime,
) -> tuple[str, SignInUnlock]:
    """A one-time unlock code for the account (shown once, to be read out to its owner), and
    its row. 404 for an unknown or disabled account."""
    user = await session.get(StaffUser, user_id)
    if user is None or user.disabled_at is not None:
        raise NotFound()
    digits = f"{secrets.randbelow(10**8):08d}"
    code = f"{digits[:4]}-{digits[4:]}"
    unlock = SignInUnlock(
        id=uuid.uuid4(),
        user_id=user.id,
        code_hash=unlock_digest(user.id, code),
        issued_by=issued_by,
        issued_at=now,
        expires_at=now + policy.unlock_for,
        failures=0,
    )
    session.add(unlock)
    await session.flush()
    return code, unlock


async def list_users(
    session: AsyncSession, *, limit: int, cursor: Cursor | None
) -> tuple[list[UserRead], Cursor | None]:
    query = select(StaffUser, Unit.code).outerjoin(Unit, Unit.id == StaffUser.unit_id)
    if cursor is not None:
        query = query.where(StaffUser.username > cursor.value)
    rows = (await session.execute(query.order_by(StaffUser.username).limit(limit + 1))).all()
    users = [to_read(user, code) for user, code in rows[:limit]]
    next_cursor = Cursor(users[-1].username) if len(rows) > limit else None
    return users, next_cursor


async def read_user(session: AsyncSession, user: StaffUser) -> UserRead:
    return to_read(user, await _unit_code(session, user.unit_id))


def to_read(user: StaffUser, unit_code: str | None) -> UserRead:
    return UserRead(
        id=user.id,
        username=user.username,
        role=user.role,
        unit_code=unit_code,
        display_name=user.display_name,
        sex=user.sex,
        phone=user.phone,
        created_at=user.created_at,
        disabled=user.disabled_at is not None,
    )


async def reset_password(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    password: str,
    hasher: SecretHasher,
    now: datetime,
) -> StaffUser:
    """Set a new password and end every sign-in of the account (its refresh-token families), so
    someone holding the old password or a stolen session is out at once. Its device tokens die
    with the old password (``device_cookies``), and its unknown-devices lane starts afresh: the
    documented way back in, beside a supervisor's one-time unlock."""
    # Hash before touching the database: no transaction (SQLite's write lock) waits on argon2.
    password_hash = await hasher.hash(password)
    user = await session.get(StaffUser, user_id)
    if user is None:
        raise NotFound()
    user.password_hash = password_hash  # every device token of the account is void now
    # The unknown-devices lane's failures were guesses at the old password: a fresh start.
    await forget_unknown_lane(session, username=user.username)
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.flush()
    return user

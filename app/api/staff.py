"""Admin routes: staff accounts and integrator clients."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from app.access import require_staff
from app.api.deps import Context, CurrentPrincipal, Paging, Session, error_responses
from app.audit import record
from app.errors import (
    Conflict,
    Forbidden,
    LastAdmin,
    NotFound,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
    WebhookTargetRefused,
)
from app.identity.integrators import (
    create_integrator,
    integrator_read,
    list_integrators,
    revoke_integrator,
    rotate_integrator,
)
from app.identity.staff import create_user, list_users, read_user, reset_password, update_user
from app.identity.throttle import recent_failures
from app.schemas.common import Page
from app.schemas.identity import (
    IntegratorCreate,
    IntegratorCredential,
    IntegratorRead,
    PasswordReset,
    SignInFailuresRead,
    UserCreate,
    UserRead,
    UserUpdate,
)

router = APIRouter(prefix="/v1", tags=["administration"])
_ERRORS = error_responses(Unauthenticated, Forbidden, UnsupportedMediaType, ValidationFailed)


@router.post(
    "/users",
    status_code=201,
    summary="Create a staff account (admin)",
    response_model=UserRead,
    responses={**_ERRORS, **error_responses(Conflict)},
)
async def post_user(
    data: UserCreate, session: Session, context: Context, principal: CurrentPrincipal
) -> UserRead:
    admin = require_staff(principal, "admin")
    now = context.clock.now()
    user = await create_user(session, data=data, hasher=context.hasher, now=now)
    record(
        session,
        principal=admin,
        action="user.create",
        object_type="staff_user",
        object_id=user.id,
        at=now,
        detail={"role": data.role},
    )
    read = await read_user(session, user)
    await session.commit()
    return read


@router.get(
    "/users",
    summary="List staff accounts (admin, supervisor)",
    response_model=Page[UserRead],
    responses=_ERRORS,
)
async def get_users(
    session: Session, principal: CurrentPrincipal, paging: Paging
) -> Page[UserRead]:
    require_staff(principal, "admin", "supervisor")
    users, cursor = await list_users(session, limit=paging.limit, cursor=paging.cursor)
    return Page[UserRead](items=users, next_cursor=cursor.encode() if cursor else None)


@router.patch(
    "/users/{user_id}",
    summary="Change a staff account: role, unit, disable (admin)",
    description=(
        "The last active admin cannot be disabled or given another role (`last-admin`, 409): "
        "nobody could administer the deployment afterwards."
    ),
    response_model=UserRead,
    responses={**_ERRORS, **error_responses(NotFound, LastAdmin)},
)
async def patch_user(
    user_id: uuid.UUID,
    data: UserUpdate,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> UserRead:
    admin = require_staff(principal, "admin")
    now = context.clock.now()
    user = await update_user(session, user_id=user_id, data=data, now=now)
    record(
        session,
        principal=admin,
        action="user.update",
        object_type="staff_user",
        object_id=user.id,
        at=now,
        detail={"fields": sorted(data.model_fields_set)},
    )
    read = await read_user(session, user)
    await session.commit()
    return read


@router.post(
    "/users/{user_id}/password",
    summary="Set a new password for a staff account (admin); ends its sign-ins",
    response_model=UserRead,
    responses={**_ERRORS, **error_responses(NotFound)},
)
async def post_password(
    user_id: uuid.UUID,
    data: PasswordReset,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> UserRead:
    admin = require_staff(principal, "admin")
    now = context.clock.now()
    user = await reset_password(
        session, user_id=user_id, password=data.password, hasher=context.hasher, now=now
    )
    record(
        session,
        principal=admin,
        action="user.password_reset",
        object_type="staff_user",
        object_id=user.id,
        at=now,
        detail={},
    )
    read = await read_user(session, user)
    await session.commit()
    return read


@router.post(
    "/integrators",
    status_code=201,
    summary="Create an integrator client (admin); the secret is shown once",
    response_model=IntegratorCredential,
    responses=error_responses(
        Unauthenticated, Forbidden, UnsupportedMediaType, ValidationFailed, WebhookTargetRefused
    ),
)
async def post_integrator(
    data: IntegratorCreate, session: Session, context: Context, principal: CurrentPrincipal
) -> IntegratorCredential:
    admin = require_staff(principal, "admin")
    now = context.clock.now()
    credential = await create_integrator(
        session,
        name=data.name,
        scopes=data.scopes,
        now=now,
        keyring=context.keyring,
        data_scope=data.data_scope,
        unit_code=data.unit_code,
        allowed_network=data.allowed_network,
    )
    record(
        session,
        principal=admin,
        action="integrator.create",
        object_type="integrator",
        object_id=None,
        at=now,
        detail={"client_id": credential.client_id},
    )
    await session.commit()
    return credential


@router.get(
    "/integrators",
    summary="List integrator clients (admin)",
    response_model=Page[IntegratorRead],
    responses=_ERRORS,
)
async def get_integrators(
    session: Session, principal: CurrentPrincipal, paging: Paging
) -> Page[IntegratorRead]:
    require_staff(principal, "admin")
    items, cursor = await list_integrators(session, limit=paging.limit, cursor=paging.cursor)
    return Page[IntegratorRead](items=items, next_cursor=cursor.encode() if cursor else None)


@router.post(
    "/integrators/{client_id}/secret",
    summary="Rotate a client's secrets (admin); the new ones are shown once",
    description="The old client secret and webhook secret stop working at once.",
    response_model=IntegratorCredential,
    responses={**_ERRORS, **error_responses(NotFound)},
)
async def post_integrator_secret(
    client_id: str, session: Session, context: Context, principal: CurrentPrincipal
) -> IntegratorCredential:
    admin = require_staff(principal, "admin")
    now = context.clock.now()
    credential = await rotate_integrator(
        session, client_id=client_id, keyring=context.keyring, now=now
    )
    record(
        session,
        principal=admin,
        action="integrator.rotate",
        object_type="integrator",
        object_id=None,
        at=now,
        detail={"client_id": client_id},
    )
    await session.commit()
    return credential


@router.delete(
    "/integrators/{client_id}",
    summary="Revoke a client for good (admin): its secret and tokens are refused at once",
    response_model=IntegratorRead,
    responses={**_ERRORS, **error_responses(NotFound)},
)
async def delete_integrator(
    client_id: str, session: Session, context: Context, principal: CurrentPrincipal
) -> IntegratorRead:
    admin = require_staff(principal, "admin")
    now = context.clock.now()
    client = await revoke_integrator(session, client_id=client_id, now=now)
    record(
        session,
        principal=admin,
        action="integrator.revoke",
        object_type="integrator",
        object_id=None,
        at=now,
        detail={"client_id": client_id},
    )
    read = integrator_read(client)
    await session.commit()
    return read


@router.get(
    "/sign-in-failures",
    summary="Staff accounts with recent failed sign-ins (supervisor, admin)",
    description=(
        "Most recent first, at most 200 accounts: consecutive failures (0 again once the account "
        "signed in since), until when the account's unknown devices must wait (its known "
        "devices never do), and the networks the failures came from. Supervisors are also told "
        "on the stream (`staff.sign_in_failures`). Reading this list is audited."
    ),
    response_model=list[SignInFailuresRead],
    responses=_ERRORS,
)
async def get_sign_in_failures(
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
    hours: Annotated[int, Query(ge=1, le=24 * 30, description="How far back")] = 24,
) -> list[SignInFailuresRead]:
    staff = require_staff(principal, "admin", "supervisor")
    now = context.clock.now()
    failures = await recent_failures(
        session,
        since=now - timedelta(hours=hours),
        now=now,
        limit=200,
        trusted_for=timedelta(days=context.settings.security.signin_trusted_network_days),
    )
    record(
        session,
        principal=staff,
        action="sign_in_failures.read",
        object_type="staff_user",
        object_id=None,
        at=now,
        detail={"hours": hours, "accounts": len(failures)},
    )
    await session.commit()
    return failures

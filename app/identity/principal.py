"""Turning a bearer credential into a Principal (device, staff or integrator)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import DevicePrincipal, IntegratorPrincipal, Principal, StaffPrincipal
from app.identity.devices import find_device
from app.identity.integrators import token_generation
from app.identity.tokens import family_is_active
from app.models import IntegratorClient, StaffUser, Unit
from app.security.credentials import DEVICE_PREFIX
from app.security.tokens import TokenSigner


async def staff_principal(
    session: AsyncSession, which: ColumnElement[bool], *, family_id: uuid.UUID | None = None
) -> StaffPrincipal | None:
    """The active staff account ``which`` selects, as a principal (None if absent or disabled)."""
    row = (
        await session.execute(
            select(StaffUser, Unit.code).outerjoin(Unit, Unit.id == StaffUser.unit_id).where(which)
        )
    ).first()
    if row is None or row[0].disabled_at is not None:
        return None
    user, unit_code = row
    return StaffPrincipal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        unit_id=user.unit_id,
        unit_code=unit_code,
        family_id=family_id,
    )


async def authenticate_bearer(
    session: AsyncSession, *, token: str, signer: TokenSigner, now: datetime
) -> Principal | None:
    if token.startswith(DEVICE_PREFIX):
        device = await find_device(session, token, now=now)
        return DevicePrincipal(device) if device else None
    claims = signer.verify(token, now=now)
    if claims is None:
        return None
    kind, _, raw_id = claims.subject.partition(":")
    try:
        subject_id = uuid.UUID(raw_id)
    except ValueError:
        return None
    if kind == "staff":
        if claims.family_id is not None and not await family_is_active(session, claims.family_id):
            return None
        return await staff_principal(
            session, StaffUser.id == subject_id, family_id=claims.family_id
        )
    if kind == "client":
        client = await session.get(IntegratorClient, subject_id)
        if client is None or client.disabled_at is not None:
            return None
        if claims.generation != token_generation(client):
            return None  # issued before its secret rotated or its scopes changed
        return IntegratorPrincipal(
            client_id=client.id,
            name=client.name,
            scopes=frozenset(claims.scopes),
            data_scope=client.data_scope,
            unit_code=client.unit_code,
        )
    return None

"""Integrator clients (police, social services, LPSK, 112, other provinces) and their scopes."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import INTEGRATOR_SCOPES
from app.errors import ValidationFailed
from app.models import IntegratorClient
from app.schemas.identity import IntegratorCredential
from app.security.credentials import CLIENT_SECRET_PREFIX, digest, new_secret


async def create_integrator(
    session: AsyncSession, *, name: str, scopes: list[str], now: datetime
) -> IntegratorCredential:
    unknown = sorted(set(scopes) - INTEGRATOR_SCOPES)
    if unknown:
        raise ValidationFailed(
            f"Unknown scopes: {', '.join(unknown)}.",
            extra={
                "errors": [
                    {"loc": ["body", "scopes"], "msg": f"allowed: {sorted(INTEGRATOR_SCOPES)}"}
                ]
            },
        )
    client_id = "sgi_" + secrets.token_hex(8)
    secret = new_secret(CLIENT_SECRET_PREFIX)
    session.add(
        IntegratorClient(
            id=uuid.uuid4(),
            client_id=client_id,
            secret_hash=digest(secret),
            name=name,
            scopes=sorted(set(scopes)),
            created_at=now,
        )
    )
    await session.flush()
    return IntegratorCredential(
        client_id=client_id, client_secret=secret, name=name, scopes=sorted(set(scopes))
    )

"""Writing the audit trail: who read or changed which personal record (ids only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import DevicePrincipal, IntegratorPrincipal, Principal, StaffPrincipal
from app.models import AuditEntry


def actor_of(principal: Principal | None) -> tuple[str, str]:
    if isinstance(principal, StaffPrincipal):
        return "staff", str(principal.user_id)
    if isinstance(principal, IntegratorPrincipal):
        return "integrator", str(principal.client_id)
    if isinstance(principal, DevicePrincipal):
        return "device", str(principal.device.id)
    return "operator", "cli"


def record(
    session: AsyncSession,
    *,
    principal: Principal | None,
    action: str,
    object_type: str,
    object_id: uuid.UUID | None,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    actor_type, actor_id = actor_of(principal)
    session.add(
        AuditEntry(
            at=at,
            actor_type=actor_type,
            actor_id=actor_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            detail=detail or {},
        )
    )

"""Writing the audit trail: who read or changed which personal record (ids only)."""

from __future__ import annotations

import getpass
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import DevicePrincipal, IntegratorPrincipal, Principal, StaffPrincipal
from app.models import AuditEntry


@dataclass(frozen=True)
class ShellOperator:
    """An operator running ``sigap`` at a shell, audited with the operating-system account: a
    shared server's trail must say which administrator changed an account, not just "the CLI"."""

    os_user: str

    @classmethod
    def current(cls) -> ShellOperator:
        try:
            return cls(getpass.getuser())
        except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
            return cls("unknown")


def actor_of(principal: Principal | ShellOperator | None) -> tuple[str, str]:
    if isinstance(principal, StaffPrincipal):
        return "staff", str(principal.user_id)
    if isinstance(principal, IntegratorPrincipal):
        return "integrator", str(principal.client_id)
    if isinstance(principal, DevicePrincipal):
        return "device", str(principal.device.id)
    if isinstance(principal, ShellOperator):
        return "operator", f"cli:{principal.os_user}"
    return "system", "sigap"  # background work the server does on its own (the retention purge)


def record(
    session: AsyncSession,
    *,
    principal: Principal | ShellOperator | None,
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

"""Who is calling, and what kind of caller a route accepts.

What a caller may see of an alert is decided in ``app.policy``; object-level denials answer 404
(not 403) so nobody learns that another post's alert exists.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.errors import Forbidden
from app.models import Device
from app.policy.roles import PROVINCE_WIDE_ROLES as PROVINCE_WIDE_ROLES
from app.policy.roles import PSEUDONYMOUS_ROLES

STAFF_ROLES = frozenset({"counselor", "paralegal", "transit_staff", "supervisor", "admin"})
INTEGRATOR_SCOPES = frozenset(
    {
        "reference:read",
        "alerts:read",
        "alerts:create",
        "cases:read",
        "partner_status:write",
        "reports:read",
        "exports:read",
        "webhooks:manage",
    }
)


@dataclass(frozen=True)
class DevicePrincipal:
    device: Device


@dataclass(frozen=True)
class StaffPrincipal:
    user_id: uuid.UUID
    username: str
    role: str
    unit_id: uuid.UUID | None
    unit_code: str | None
    family_id: uuid.UUID | None

    @property
    def is_transit(self) -> bool:
        """Transit staff see alerts pseudonymised: case code and location, no contact data."""
        return self.role in PSEUDONYMOUS_ROLES


@dataclass(frozen=True)
class IntegratorPrincipal:
    client_id: uuid.UUID
    name: str
    scopes: frozenset[str]
    data_scope: str = "none"
    """Which alerts it may see: ``app.integrations.scope`` decides."""
    unit_code: str | None = None


Principal = DevicePrincipal | StaffPrincipal | IntegratorPrincipal


def require_device(principal: Principal) -> DevicePrincipal:
    if not isinstance(principal, DevicePrincipal):
        raise Forbidden("This route is for the victim's app (a device credential).")
    return principal


def require_staff(principal: Principal, *roles: str) -> StaffPrincipal:
    if not isinstance(principal, StaffPrincipal):
        raise Forbidden("This route is for staff accounts.")
    if roles and principal.role not in roles:
        raise Forbidden(
            f"This route needs one of the roles: {', '.join(roles)}.",
            extra={"reason": "role"},  # the reason an alert's `actions` shows for it
        )
    return principal


def require_scope(principal: Principal, scope: str) -> None:
    """Staff pass; integrators need the scope; devices never."""
    if isinstance(principal, StaffPrincipal):
        return
    if isinstance(principal, IntegratorPrincipal) and scope in principal.scopes:
        return
    raise Forbidden(f"This route needs the scope {scope}.")

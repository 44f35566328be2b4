"""Who may call each route at all, checked before its input is judged.

A route's handler checks its caller (``require_staff`` and the like) only once FastAPI has
parsed and validated the body, query and path: a caller of the wrong role sending a malformed
request used to get 400/422 with the schema's detail, learning the route's shape and that its
input, not its role, was wrong. When a request's input is refused, ``app.api.problems`` first asks
this table: a caller the route is not for gets 401/403, exactly as with a valid request.

The handlers keep their own checks (this table adds an order, it grants nothing);
``tests/policy/test_role_before_body.py`` reads each handler's ``require_*`` calls and checks this
table says the same, so the two cannot drift apart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.requests import Request

from app.access import DevicePrincipal, IntegratorPrincipal, Principal, StaffPrincipal
from app.errors import Forbidden, Unauthenticated

log = logging.getLogger("sigap.api")

ROLES = ("counselor", "paralegal", "transit_staff", "supervisor", "admin")


@dataclass(frozen=True)
class Audience:
    staff: frozenset[str] = frozenset()
    """Staff roles the route is for."""
    scope: str | None = None
    """Integrator clients with this scope."""
    device: bool = False

    def refusal(self, principal: Principal) -> Forbidden | None:
        if isinstance(principal, StaffPrincipal) and principal.role in self.staff:
            return None
        if isinstance(principal, IntegratorPrincipal) and self.scope in principal.scopes:
            return None
        if isinstance(principal, DevicePrincipal) and self.device:
            return None
        return Forbidden("This route is not for this credential's role or scope.")


def staff(*roles: str) -> Audience:
    return Audience(staff=frozenset(roles or ROLES))


CASE_STAFF = staff("counselor", "paralegal", "supervisor", "admin")
LEADS = staff("supervisor", "admin")
ADMIN = staff("admin")
DEVICE = Audience(device=True)

ROUTE_AUDIENCE: dict[tuple[str, str], Audience] = {
    ("POST", "/v1/alerts"): DEVICE,  # takes any body: listed for completeness
    ("POST", "/v1/auth/logout"): staff(),
    ("POST", "/v1/alerts/{alert_id}/locations"): DEVICE,
    ("POST", "/v1/alerts/{alert_id}/cancel"): DEVICE,
    ("GET", "/v1/alerts"): LEADS,
    ("GET", "/v1/alerts/{alert_id}/trail"): staff(),
    ("POST", "/v1/alerts/{alert_id}/progress"): staff(),
    ("POST", "/v1/alerts/{alert_id}/resolve"): staff(),
    ("POST", "/v1/alerts/{alert_id}/notes"): staff(),
    ("GET", "/v1/alerts/{alert_id}/notes"): CASE_STAFF,
    ("GET", "/v1/alerts/{alert_id}/routing"): staff(),
    ("GET", "/v1/alerts/{alert_id}/passed-on"): staff(),
    ("GET", "/v1/alerts/{alert_id}/timeline"): staff(),
    ("POST", "/v1/alerts/{alert_id}/reassign"): LEADS,
    ("POST", "/v1/alerts/{alert_id}/legal-hold"): LEADS,
    ("GET", "/v1/assignments"): staff(),
    ("POST", "/v1/assignments/{assignment_id}/accept"): staff(),
    ("POST", "/v1/assignments/{assignment_id}/decline"): staff(),
    ("POST", "/v1/assignments/{assignment_id}/heartbeat"): staff(),
    ("POST", "/v1/assignments/{assignment_id}/break"): LEADS,
    ("POST", "/v1/alerts/{alert_id}/restriction"): staff("counselor", "paralegal", "supervisor"),
    ("POST", "/v1/alerts/{alert_id}/break-glass"): staff("supervisor", "counselor", "paralegal"),
    ("POST", "/v1/alerts/{alert_id}/hand-to-counselor"): staff(),
    ("POST", "/v1/alerts/{alert_id}/reopen"): LEADS,
    ("GET", "/v1/break-glass"): LEADS,
    ("GET", "/v1/devices/me"): DEVICE,
    ("PUT", "/v1/devices/me/pins"): DEVICE,
    ("POST", "/v1/devices/me/credential"): DEVICE,
    ("DELETE", "/v1/devices/me"): DEVICE,
    ("POST", "/v1/drills"): LEADS,
    ("GET", "/v1/regions"): Audience(staff=frozenset(ROLES), scope="reference:read"),
    ("GET", "/v1/units"): Audience(staff=frozenset(ROLES), scope="reference:read"),
    ("GET", "/v1/units/{code}"): Audience(staff=frozenset(ROLES), scope="reference:read"),
    ("PATCH", "/v1/units/{code}"): LEADS,
    ("POST", "/v1/units/{code}/shifts"): LEADS,
    ("GET", "/v1/units/{code}/shifts"): staff(),
    ("DELETE", "/v1/shifts/{shift_id}"): LEADS,
    ("GET", "/v1/units/{code}/on-duty"): staff(),
    ("GET", "/v1/alerts/{alert_id}/sla"): staff(),
    ("POST", "/v1/alerts/{alert_id}/case"): CASE_STAFF,
    ("GET", "/v1/alerts/{alert_id}/case"): CASE_STAFF,
    ("PATCH", "/v1/cases/{case_id}"): CASE_STAFF,
    ("POST", "/v1/cases/{case_id}/milestones"): CASE_STAFF,
    ("GET", "/v1/reports/sla"): Audience(staff=LEADS.staff, scope="reports:read"),
    ("POST", "/v1/users"): ADMIN,
    ("GET", "/v1/users"): LEADS,
    ("PATCH", "/v1/users/{user_id}"): ADMIN,
    ("POST", "/v1/users/{user_id}/password"): ADMIN,
    ("POST", "/v1/users/{user_id}/sign-in-unlock"): LEADS,
    ("GET", "/v1/audit"): LEADS,
    ("GET", "/v1/attention"): LEADS,
    ("POST", "/v1/attention/{item_id}/acknowledge"): staff("supervisor"),
    ("GET", "/v1/me/inbox"): staff(),
    ("POST", "/v1/me/inbox/read"): staff(),
    ("POST", "/v1/integrators"): ADMIN,
    ("GET", "/v1/integrators"): ADMIN,
    ("POST", "/v1/integrators/{client_id}/secret"): ADMIN,
    ("DELETE", "/v1/integrators/{client_id}"): ADMIN,
    ("GET", "/v1/sign-in-failures"): LEADS,
    ("POST", "/v1/integrations/alerts"): Audience(scope="alerts:create"),
    ("POST", "/v1/integrations/status"): Audience(scope="partner_status:write"),
    ("POST", "/v1/webhooks/endpoints"): Audience(scope="webhooks:manage"),
    ("GET", "/v1/webhooks/endpoints"): Audience(scope="webhooks:manage"),
    ("POST", "/v1/webhooks/endpoints/{endpoint_id}/secret"): Audience(scope="webhooks:manage"),
    ("DELETE", "/v1/webhooks/endpoints/{endpoint_id}"): Audience(scope="webhooks:manage"),
    ("GET", "/v1/webhooks/endpoints/{endpoint_id}/deliveries"): Audience(scope="webhooks:manage"),
    (
        "POST",
        "/v1/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    ): Audience(scope="webhooks:manage"),
}


def route_key(request: Request) -> tuple[str, str] | None:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return (request.method, path) if isinstance(path, str) else None


async def authorize_before_input(request: Request) -> None:
    """Raise 401/403 when the route is not for this caller; return when it is (or when the
    route is not in the table: it takes anyone, or decides per object)."""
    key = route_key(request)
    audience = ROUTE_AUDIENCE.get(key) if key else None
    if audience is None:
        return
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # the body was refused before the route's dependencies ran
        principal = await _authenticate(request)
    refusal = audience.refusal(principal)
    if refusal is not None:
        raise refusal


async def _authenticate(request: Request) -> Principal:
    from app.api.deps import bearer_token, get_context
    from app.identity.principal import authenticate_bearer

    context = get_context(request)
    token = bearer_token(request)
    async with context.sessions() as session:
        principal = await authenticate_bearer(
            session, token=token, signer=context.signer, now=context.clock.now()
        )
    if principal is None:
        raise Unauthenticated(
            "The credential is unknown, expired or revoked.",
            headers={"WWW-Authenticate": 'Bearer realm="sigap", error="invalid_token"'},
        )
    return principal

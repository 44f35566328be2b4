"""A caller a route is not for is refused before its input is judged (issue 21): with a wrong
role, a malformed or schema-invalid body, query or path answers 401/403, never 400/422 with the
schema's detail. Every route in ``app.api.audience.ROUTE_AUDIENCE`` is tried with every kind of
caller, and the table is checked against the handlers' own ``require_*`` calls."""

from __future__ import annotations

import ast
import inspect
import textwrap
import uuid
from typing import Any

import httpx
from fastapi.routing import APIRoute

from app.api import (
    alert_trail,
    alert_work,
    alerts,
    assignments,
    attention,
    audit,
    auth,
    confidentiality,
    devices,
    drills,
    integrations,
    reference,
    rosters,
    sla,
    staff,
    webhooks,
)
from app.api.audience import ROLES, ROUTE_AUDIENCE, Audience
from app.context import AppContext
from tests.helpers import auth as bearer
from tests.helpers import integrator_token, register, staff_token

MODULES = (
    alerts,
    alert_work,
    alert_trail,
    assignments,
    rosters,
    sla,
    devices,
    auth,
    drills,
    staff,
    reference,
    integrations,
    webhooks,
    confidentiality,
    audit,
    attention,
)
SCOPED_HELPERS = {"_manager": "webhooks:manage"}  # webhooks.py's one-scope check


def declared_by_handler(route: APIRoute, module: Any) -> Audience | None:
    """What the handler's own checks allow, read from its source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(route.endpoint)))
    roles: set[str] | None = None
    scope: str | None = None
    device = False
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        name, args = node.func.id, node.args[1:]
        if name == "require_staff":
            found: set[str] = set()
            for arg in args:
                if isinstance(arg, ast.Starred) and isinstance(arg.value, ast.Name):
                    found |= set(getattr(module, arg.value.id))
                else:
                    found.add(ast.literal_eval(arg))
            roles = found or set(ROLES)
        elif name == "require_scope":
            scope = ast.literal_eval(args[0])
            roles = roles if roles is not None else set(ROLES)  # staff pass require_scope
        elif name == "require_device":
            device = True
        elif name == "_integrator":
            scope = ast.literal_eval(args[0])
        elif name in SCOPED_HELPERS:
            scope = SCOPED_HELPERS[name]
    if roles is None and scope is None and not device:
        return None
    return Audience(staff=frozenset(roles or ()), scope=scope, device=device)


def api_routes() -> list[tuple[APIRoute, Any]]:
    return [
        (route, module)
        for module in MODULES
        for route in module.router.routes
        if isinstance(route, APIRoute)
    ]


def test_the_table_says_what_each_handler_checks() -> None:
    derived: dict[tuple[str, str], Audience] = {}
    for route, module in api_routes():
        audience = declared_by_handler(route, module)
        if audience is not None:
            for method in route.methods:
                derived[(method, route.path)] = audience
    # The reports route checks integrators' scope, then staff roles, each on its own branch.
    reports = derived[("GET", "/v1/reports/sla")]
    assert reports.scope == "reports:read"
    derived[("GET", "/v1/reports/sla")] = Audience(
        staff=frozenset({"supervisor", "admin"}), scope="reports:read"
    )
    assert derived == ROUTE_AUDIENCE


def invalid_requests(route: APIRoute, method: str) -> list[dict[str, Any]]:
    """Requests whose input FastAPI refuses: a bad path id, a malformed and a schema-invalid
    body, bad query values."""
    flat = _flatten(route.dependant)
    path, good_path, bad_path = route.path, route.path, False
    for param in (p for d in flat for p in d.path_params):
        hole = "{" + param.name + "}"
        if param.field_info.annotation is uuid.UUID:
            path, good_path = (
                path.replace(hole, "not-a-uuid"),
                good_path.replace(hole, str(uuid.uuid4())),
            )
            bad_path = True
        else:
            path, good_path = path.replace(hole, "3171060"), good_path.replace(hole, "3171060")
    requests: list[dict[str, Any]] = []
    if bad_path:
        requests.append({"method": method, "url": path})
    if any(d.body_params for d in flat):
        json_headers = {"Content-Type": "application/json"}
        requests.append(
            {"method": method, "url": good_path, "content": b'{"x": ', "headers": json_headers}
        )
        requests.append({"method": method, "url": good_path, "json": [1, 2]})
    queries = [p for d in flat for p in d.query_params]
    if queries:
        values = {p.alias: "\x7f" * 600 for p in queries}  # too long, not a number, not a date
        requests.append({"method": method, "url": good_path, "params": values})
    return requests


def _flatten(dependant: Any) -> list[Any]:
    out = [dependant]
    for sub in dependant.dependencies:
        out += _flatten(sub)
    return out


async def test_a_wrong_caller_is_refused_before_its_input_is_judged(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    callers: dict[str, tuple[str, Any]] = {}
    _, device = await register(client)
    callers["device"] = (device, None)
    for role in ROLES:
        unit = {"transit_staff": "transjakarta", "counselor": "3171060", "paralegal": "3171060"}
        token = await staff_token(client, context, f"u.{role}", role, unit.get(role, "central"))
        callers[role] = (token, role)
    scopes = sorted({a.scope for a in ROUTE_AUDIENCE.values() if a.scope})
    for scope in [*scopes, None]:
        token = await integrator_token(client, context, [scope] if scope else ["exports:read"])
        callers[f"integrator:{scope}"] = (token, scope)

    def allowed(audience: Audience, caller: str) -> bool:
        if caller == "device":
            return audience.device
        if caller.startswith("integrator:"):
            return audience.scope is not None and caller == f"integrator:{audience.scope}"
        return caller in audience.staff

    def chosen(audience: Audience) -> list[str]:
        """One refused caller of each kind (the roles themselves are checked against the
        handlers above) and one allowed caller: enough to show the order, at a bounded cost."""
        refused = [c for c in callers if not allowed(audience, c)]
        picked = [c for c in ("device", "integrator:None") if c in refused]
        picked += [c for c in reversed(ROLES) if c in refused][:1]
        picked += [c for c in callers if allowed(audience, c)][:1]
        return picked

    failures: list[str] = []
    tried = 0
    for route, _module in api_routes():
        for method in route.methods:
            audience = ROUTE_AUDIENCE.get((method, route.path))
            if audience is None:
                continue
            for number, request in enumerate(invalid_requests(route, method)):
                if number == 0:
                    anonymous = await client.request(**request)
                    if anonymous.status_code != 401:
                        failures.append(f"anonymous {method} {request['url']}")
                # Every caller on the first kind of bad input, one refused caller on the others.
                for caller in chosen(audience)[: None if number == 0 else 1]:
                    token = callers[caller][0]
                    headers = {**request.get("headers", {}), **bearer(token)}
                    response = await client.request(**{**request, "headers": headers})
                    tried += 1
                    expected = {422, 400} if allowed(audience, caller) else {403}
                    if response.status_code not in expected:
                        failures.append(
                            f"{caller} {method} {request['url']}: {response.status_code} "
                            f"{response.text[:80]}"
                        )
                    if not allowed(audience, caller):
                        assert "errors" not in response.json()  # no schema detail
    assert failures == []
    assert tried > 200  # every route, a caller of each kind

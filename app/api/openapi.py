"""The OpenAPI description: FastAPI's, plus what the edge does to whole kinds of routes.

Each route declares its own outcomes in ``responses=``. What the edge does to every route of a
kind is added here, from the route table, so a new route is described truthfully without anyone
remembering to list it (schemathesis holds the description to the answers,
tests/api/test_openapi_conformance.py):

- ``security``: a bearer token only where the route asks for a principal; the public routes
  (health, registration, sign-in, the console's cookie session, signed partner webhooks) say
  they take none, instead of inheriting a requirement they do not have.
- 401 ``unauthenticated`` on every route that takes a bearer token.
- 400 ``malformed-json`` where FastAPI reads the body as JSON (the press reads its own body and
  never refuses one), 413 ``body-too-large`` on every route with a body, 415
  ``unsupported-media-type`` where the edge insists on JSON (app.api.middleware).
- 422 is the app's problem document, never FastAPI's ``HTTPValidationError``, which this app
  does not send (app.api.problems renders every validation error).
- 503: ``service-unavailable`` on every route with a database session (an outage answers so on
  any of them), ``overloaded`` on every route the load shedder may set aside (app.api.shedding).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel

from app.api.deps import error_responses, get_principal, get_session
from app.api.middleware import FORM_PATHS, PRESS_PATH
from app.api.problems import Problem
from app.api.shedding import ROUTE_PRIORITIES, Priority
from app.errors import (
    BodyTooLarge,
    DomainError,
    MalformedJson,
    Overloaded,
    ServiceUnavailable,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from app.schemas.alerts import AlertCreate

BEARER = "bearer"
OPERATOR = "operator"
OPERATOR_ROUTES: dict[str, list[dict[str, list[str]]]] = {
    "/metrics": [{OPERATOR: []}],
    "/readyz": [{}, {OPERATOR: []}],
}
"""The operator's credential (SIGAP_OPS__METRICS_TOKEN): required for the metrics, optional for
readiness (its details)."""
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"
_UNUSED_WHEN_UNREFERENCED = ("HTTPValidationError", "ValidationError")
_EXTRA_MODELS: tuple[type[BaseModel], ...] = (Problem, AlertCreate)
"""Published although no route's signature names them: every error's body, and the press's
schema (the press reads its own body, app.api.alerts)."""


def describe(app: FastAPI) -> dict[str, Any]:
    """``app.openapi``: built once, then cached on the app as FastAPI does."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {})
    definitions = components.setdefault("schemas", {})
    for model in _EXTRA_MODELS:
        definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in definition.pop("$defs", {}).items():
            definitions.setdefault(name, sub)
        definitions[model.__name__] = definition
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "A device credential (sgd_…) or an access token from /v1/auth/token",
        },
        OPERATOR: {
            "type": "http",
            "scheme": "bearer",
            "description": "The operator's credential, SIGAP_OPS__METRICS_TOKEN (docs/deploy.md)",
        },
    }
    for route in iter_route_contexts(app.routes):  # included routers' routes, with prefixes
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            for method in route.methods or ():
                operation = schema["paths"][route.path_format][method.lower()]
                _describe_edge(route, method, operation)
    _drop_unreferenced(schema, _UNUSED_WHEN_UNREFERENCED)
    app.openapi_schema = schema
    return schema


def takes_bearer(route: RouteContext) -> bool:
    """Whether the route authenticates a bearer token (it depends on ``get_principal``)."""
    return _depends_on(route.dependant, get_principal)


def _depends_on(dependant: Dependant, call: Any) -> bool:
    return dependant.call is call or any(_depends_on(d, call) for d in dependant.dependencies)


def _describe_edge(route: RouteContext, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    bearer = takes_bearer(route)
    operation["security"] = [{BEARER: []}] if bearer else []
    if route.path_format in OPERATOR_ROUTES:
        operation["security"] = OPERATOR_ROUTES[route.path_format]
    errors: list[type[DomainError]] = []
    if bearer:
        errors.append(Unauthenticated)
    if route.body_field is not None:
        errors.append(MalformedJson)
    if "requestBody" in operation:
        errors.append(BodyTooLarge)
    if method in ("POST", "PUT", "PATCH") and route.path_format not in (PRESS_PATH, *FORM_PATHS):
        errors.append(UnsupportedMediaType)
    if _ref(responses.get("422")) == _FASTAPI_422:
        del responses["422"]
        errors.append(ValidationFailed)
    if _depends_on(route.dependant, get_session):
        errors.append(ServiceUnavailable)
    if ROUTE_PRIORITIES.get((method, route.path_format or "")) is not Priority.VITAL:
        errors.append(Overloaded)
    for status, documented in error_responses(*errors).items():
        _merge(responses, str(status), documented)


def _merge(responses: dict[str, Any], status: str, documented: dict[str, Any]) -> None:
    """Add a documented problem, or name its type beside the ones the route already lists."""
    existing = responses.get(status)
    if existing is None:
        responses[status] = documented
        return
    if "application/problem+json" not in existing.get("content", {}):
        return  # the route answers this status in its own format (RFC 6749 on the token route)
    for entry in documented["description"].split("; "):
        if entry.split(":")[0] not in existing.get("description", ""):
            existing["description"] = f"{existing['description']}; {entry}"


def _ref(response: dict[str, Any] | None) -> str | None:
    if response is None:
        return None
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref: str | None = schema.get("$ref")
    return ref


def _drop_unreferenced(schema: dict[str, Any], names: tuple[str, ...]) -> None:
    definitions = schema["components"]["schemas"]
    for name in names:
        if name not in definitions:
            continue
        others = {k: v for k, v in definitions.items() if k != name}
        rest = json.dumps([schema["paths"], others])
        if f'"#/components/schemas/{name}"' not in rest:
            del definitions[name]

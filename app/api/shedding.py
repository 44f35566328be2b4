"""Load shedding: under overload, lower-priority routes give their database connections to intake.

Every route has an explicit priority (a test checks that none is missing):

- ``vital`` is never shed: the press and what follows it from the phone (location updates,
  cancel, registering the device that will press), the stream, and a responder's accept,
  decline, progress and claim heartbeat (a shed heartbeat would let claims lapse in a burst).
  Health and readiness are vital too: shedding them would take a busy process out of its load
  balancer, which is the opposite of what a burst needs.
- ``standard`` (reading and working alerts, sign-in, accounts of one's own) is shed only under
  heavy overload: more requests in flight than ``overload.standard_factor`` times the pool.
- ``deferrable`` (reports, case paperwork, rosters, administration, reference data, API docs)
  is shed as soon as every pooled connection is busy and requests are already waiting for one.

The signal is this process's own: requests in flight (counted here) against the connection pool
(connections checked out, and its capacity). It needs no clock and no sampling, it reacts within
one request, and it stops shedding as soon as the queue drains. A shed request gets 503
``/problems/overloaded`` with ``Retry-After`` before any work is done.
"""

from __future__ import annotations

import re
from enum import StrEnum

from sqlalchemy.pool import QueuePool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.problems import problem_response
from app.context import AppContext
from app.errors import Overloaded


class Priority(StrEnum):
    VITAL = "vital"
    STANDARD = "standard"
    DEFERRABLE = "deferrable"


V, S, D = Priority.VITAL, Priority.STANDARD, Priority.DEFERRABLE

ROUTE_PRIORITIES: dict[tuple[str, str], Priority] = {
    # intake: the press and the phone's follow-ups
    ("POST", "/v1/alerts"): V,
    ("POST", "/v1/alerts/{alert_id}/locations"): V,
    ("POST", "/v1/alerts/{alert_id}/cancel"): V,
    ("POST", "/v1/devices"): V,
    ("GET", "/v1/devices/me"): S,
    ("PUT", "/v1/devices/me/pins"): S,
    ("POST", "/v1/devices/me/credential"): S,
    ("DELETE", "/v1/devices/me"): S,
    # the stream
    ("WS", "/v1/stream"): V,
    ("POST", "/v1/stream/leave"): V,  # presence must end when a counselor's page closes
    # responders acting on an offer or a claim
    ("POST", "/v1/assignments/{assignment_id}/accept"): V,
    ("POST", "/v1/assignments/{assignment_id}/decline"): V,
    ("POST", "/v1/assignments/{assignment_id}/heartbeat"): V,
    ("POST", "/v1/alerts/{alert_id}/progress"): V,
    ("GET", "/v1/assignments"): S,
    ("POST", "/v1/assignments/{assignment_id}/break"): S,
    ("POST", "/v1/alerts/{alert_id}/resolve"): S,
    ("POST", "/v1/alerts/{alert_id}/reassign"): S,
    ("POST", "/v1/alerts/{alert_id}/reopen"): S,
    ("POST", "/v1/alerts/{alert_id}/hand-to-counselor"): V,
    ("POST", "/v1/alerts/{alert_id}/legal-hold"): D,
    # confidentiality: restricting is paperwork; breaking the glass is someone needing the
    # record now (standard, like reading it); the report waits
    ("POST", "/v1/alerts/{alert_id}/restriction"): D,
    ("POST", "/v1/alerts/{alert_id}/break-glass"): S,
    ("GET", "/v1/break-glass"): D,
    ("GET", "/v1/audit"): D,
    # the supervisors' live work list and their messages: shed only under heavy overload
    ("GET", "/v1/attention"): S,
    ("POST", "/v1/attention/{item_id}/acknowledge"): S,
    ("GET", "/v1/me/inbox"): S,
    ("POST", "/v1/me/inbox/read"): S,
    ("POST", "/v1/alerts/{alert_id}/notes"): S,
    ("GET", "/v1/alerts/{alert_id}/notes"): S,
    ("GET", "/v1/alerts"): S,
    ("GET", "/v1/alerts/{alert_id}"): S,
    ("GET", "/v1/alerts/{alert_id}/routing"): S,
    ("GET", "/v1/alerts/{alert_id}/passed-on"): S,
    ("GET", "/v1/alerts/{alert_id}/timeline"): S,
    ("GET", "/v1/alerts/{alert_id}/sla"): S,
    ("GET", "/v1/units/{code}/on-duty"): S,
    # signing in and out
    ("POST", "/v1/auth/token"): S,
    ("POST", "/v1/auth/revoke"): S,
    ("POST", "/v1/auth/logout"): S,
    ("GET", "/v1/me"): S,
    ("POST", "/v1/auth/session"): S,
    ("POST", "/v1/auth/session/refresh"): S,
    ("POST", "/v1/auth/session/signout"): S,
    # the console's own files touch no database: refusing them frees nothing, and a counselor
    # reloading the page in a burst must get it back
    ("GET", "/"): V,
    ("GET", "/console"): V,
    ("GET", "/console/"): V,
    ("GET", "/console/{name:path}"): V,
    ("GET", "/console/map.json"): V,
    ("GET", "/v1/alerts/{alert_id}/trail"): S,
    # cases, reports, rosters, administration, reference data
    ("POST", "/v1/alerts/{alert_id}/case"): D,
    ("GET", "/v1/alerts/{alert_id}/case"): D,
    ("PATCH", "/v1/cases/{case_id}"): D,
    ("POST", "/v1/cases/{case_id}/milestones"): D,
    ("GET", "/v1/reports/sla"): D,
    ("POST", "/v1/units/{code}/shifts"): D,
    ("GET", "/v1/units/{code}/shifts"): D,
    ("DELETE", "/v1/shifts/{shift_id}"): D,
    ("POST", "/v1/users"): D,
    ("POST", "/v1/users/{user_id}/password"): D,
    # The way back in for a counselor locked out on a new phone: as sign-in itself.
    ("POST", "/v1/users/{user_id}/sign-in-unlock"): S,
    ("POST", "/v1/drills"): D,
    ("GET", "/v1/users"): D,
    ("GET", "/v1/sign-in-failures"): D,
    ("PATCH", "/v1/users/{user_id}"): D,
    ("POST", "/v1/integrators"): D,
    ("GET", "/v1/integrators"): D,
    ("POST", "/v1/integrators/{client_id}/secret"): D,
    ("DELETE", "/v1/integrators/{client_id}"): D,
    # integrations: other channels' alerts and partner status are intake and responders'
    # actions (never shed); webhook administration and exports wait
    ("POST", "/v1/integrations/alerts"): V,
    ("POST", "/v1/integrations/status"): V,
    ("POST", "/v1/integrations/status-webhooks/{client_id}"): V,
    ("POST", "/v1/webhooks/endpoints"): D,
    ("GET", "/v1/webhooks/endpoints"): D,
    ("POST", "/v1/webhooks/endpoints/{endpoint_id}/secret"): D,
    ("DELETE", "/v1/webhooks/endpoints/{endpoint_id}"): D,
    ("GET", "/v1/webhooks/endpoints/{endpoint_id}/deliveries"): D,
    ("POST", "/v1/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver"): D,
    ("GET", "/v1/exports/alerts/{alert_id}/eido"): D,
    ("GET", "/v1/exports/alerts/{alert_id}/simfoni"): D,
    ("GET", "/v1/regions"): D,
    ("GET", "/v1/units"): D,
    ("GET", "/v1/units/{code}"): D,
    ("PATCH", "/v1/units/{code}"): D,
    # operations
    ("GET", "/healthz"): V,
    ("GET", "/readyz"): V,
    ("GET", "/metrics"): S,
    ("GET", "/problems"): D,
    ("GET", "/problems/{slug}"): D,
    ("GET", "/openapi.json"): D,
    ("GET", "/docs"): D,
    ("GET", "/docs/assets/{name}"): D,
}
"""(method, path template) -> priority; "WS" for websockets. HEAD follows GET."""


def _pattern(template: str) -> re.Pattern[str]:
    pieces = re.split(r"(\{[^/{}]+\})", template)
    return re.compile(
        "".join(
            (".+" if piece.endswith(":path}") else "[^/]+")
            if piece.startswith("{")
            else re.escape(piece)
            for piece in pieces
        )
        + "$"
    )


class RouteTable:
    """Finds a request's priority from its method and path (only computed under overload)."""

    def __init__(self, priorities: dict[tuple[str, str], Priority]) -> None:
        self._exact: dict[tuple[str, str], Priority] = {}
        self._patterns: list[tuple[str, re.Pattern[str], Priority]] = []
        for (method, template), priority in priorities.items():
            if "{" in template:
                self._patterns.append((method, _pattern(template), priority))
            else:
                self._exact[(method, template)] = priority

    def priority(self, method: str, path: str) -> Priority:
        method = "GET" if method == "HEAD" else method
        exact = self._exact.get((method, path))
        if exact is not None:
            return exact
        for candidate, pattern, priority in self._patterns:
            if candidate == method and pattern.match(path):
                return priority
        # Unknown paths are 404s or 405s: cheap, and nothing to protect. A route missing from
        # the table is caught by the test that checks every route is classified.
        return Priority.STANDARD


class LoadShedder:
    """Pure ASGI middleware: counts requests in flight and refuses, under overload, the routes
    that can wait. Websockets pass straight through (the stream is never shed)."""

    def __init__(self, app: ASGIApp, *, context: AppContext) -> None:
        self.app = app
        self.context = context
        self.settings = context.settings.overload
        self.table = RouteTable(ROUTE_PRIORITIES)
        self.in_flight = 0
        pool = context.engine.sync_engine.pool
        self._pool = pool if isinstance(pool, QueuePool) else None
        db = context.settings.db
        self.capacity = db.pool_size + db.max_overflow
        self._retry_after = {"Retry-After": str(self.settings.retry_after_s)}

    def shedding(self) -> Priority | None:
        """The highest priority being shed right now: DEFERRABLE, STANDARD (and below), or
        None. Shedding starts only when every connection is checked out and more requests
        are in flight than there are connections, so some are queueing for one."""
        if not self.settings.shed or self._pool is None or self.in_flight <= self.capacity:
            return None
        if self._pool.checkedout() < self.capacity:
            return None
        if self.in_flight > self.capacity * self.settings.standard_factor:
            return Priority.STANDARD
        return Priority.DEFERRABLE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.in_flight += 1
        gauge = self.context.metrics.requests_in_flight
        gauge.inc()
        try:
            level = self.shedding()
            if level is not None:
                priority = self.table.priority(scope["method"], scope["path"])
                if priority is Priority.DEFERRABLE or (
                    priority is Priority.STANDARD and level is Priority.STANDARD
                ):
                    self.context.metrics.requests_shed.labels(priority.value).inc()
                    await self._refuse(scope, receive, send)
                    return
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            gauge.dec()

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = Overloaded(
            "Every database connection is busy with incoming alerts; retry shortly.",
            headers=self._retry_after,
        )
        await problem_response(Request(scope), error)(scope, receive, send)

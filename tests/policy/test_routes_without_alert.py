"""Every route without an alert in its path says why it needs no per-alert decision.

``test_every_route_asks.py`` holds each route about one alert to ``app.policy``. The others are
listed here with the reason; a new route fails this test until someone writes its reason down
(and, if it shows alerts, makes it ask the policy and adds it to the canary matrix).
"""

from __future__ import annotations

from app.api.shedding import ROUTE_PRIORITIES

LISTS_THROUGH_POLICY = "lists alerts or legs: each item judged by app.policy (canary matrix)"
OWN_LEG = "a leg of the caller's own unit (app/dispatch/claims.py): another unit's is not found"
ADMIN = "administration of staff, units, rosters or integrators: role checks, no alert data"
SESSION = "the caller's own credentials or session"
PUBLIC = "public reference data, documentation or health: no personal data"
DEVICE = "the phone's own device and alerts, found through its credential"
INTEGRATOR = "an integrator's own endpoints, deliveries or reports: its data scope (app/policy)"

NO_ALERT_IN_PATH: dict[tuple[str, str], str] = {
    ("GET", "/v1/alerts"): LISTS_THROUGH_POLICY,
    ("GET", "/v1/assignments"): LISTS_THROUGH_POLICY,
    ("GET", "/v1/break-glass"): "supervisors' and admins' report of grants: reasons are theirs",
    ("GET", "/v1/attention"): "supervisors' work list: kinds, ranks and case codes, no personal "
    "data; leads only (app.api.attention)",
    ("POST", "/v1/attention/{item_id}/acknowledge"): "supervisors only; audited; the answer is "
    "the item (kind, rank, case code)",
    ("GET", "/v1/me/inbox"): "the caller's own messages: what the notifier sent them, which "
    "never holds identity (docs/dispatch.md)",
    ("POST", "/v1/me/inbox/read"): "marks the caller's own messages read",
    ("GET", "/v1/audit"): "ids and staff facts only; app.audit_query hides restricted records' "
    "entries without a grant, and every alert's from admins",
    ("GET", "/v1/reports/sla"): "aggregates per unit and day: no alert, no personal data",
    ("GET", "/v1/sign-in-failures"): "staff accounts' failures for supervisors: no victim data",
    ("POST", "/v1/assignments/{assignment_id}/accept"): OWN_LEG,
    ("POST", "/v1/assignments/{assignment_id}/decline"): OWN_LEG,
    ("POST", "/v1/assignments/{assignment_id}/heartbeat"): OWN_LEG,
    ("POST", "/v1/assignments/{assignment_id}/break"): "supervisors only, with a reason; audited",
    ("POST", "/v1/alerts"): DEVICE,
    ("POST", "/v1/devices"): DEVICE,
    ("GET", "/v1/devices/me"): DEVICE,
    ("DELETE", "/v1/devices/me"): DEVICE,
    ("POST", "/v1/devices/me/credential"): DEVICE,
    ("PUT", "/v1/devices/me/pins"): DEVICE,
    ("POST", "/v1/drills"): "a drill press for a unit: supervisors, no victim",
    ("POST", "/v1/integrations/alerts"): "creates an alert for a 112/129 caller (alerts:create)",
    ("POST", "/v1/integrations/status"): INTEGRATOR,
    ("POST", "/v1/integrations/status-webhooks/{client_id}"): INTEGRATOR,
    ("GET", "/v1/webhooks/endpoints"): INTEGRATOR,
    ("POST", "/v1/webhooks/endpoints"): INTEGRATOR,
    ("DELETE", "/v1/webhooks/endpoints/{endpoint_id}"): INTEGRATOR,
    ("GET", "/v1/webhooks/endpoints/{endpoint_id}/deliveries"): INTEGRATOR,
    (
        "POST",
        "/v1/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    ): INTEGRATOR,
    ("POST", "/v1/webhooks/endpoints/{endpoint_id}/secret"): INTEGRATOR,
    ("GET", "/v1/integrators"): ADMIN,
    ("POST", "/v1/integrators"): ADMIN,
    ("DELETE", "/v1/integrators/{client_id}"): ADMIN,
    ("POST", "/v1/integrators/{client_id}/secret"): ADMIN,
    ("GET", "/v1/users"): ADMIN,
    ("POST", "/v1/users"): ADMIN,
    ("PATCH", "/v1/users/{user_id}"): ADMIN,
    ("POST", "/v1/users/{user_id}/password"): ADMIN,
    ("POST", "/v1/users/{user_id}/sign-in-unlock"): ADMIN,
    ("PATCH", "/v1/units/{code}"): ADMIN,
    ("GET", "/v1/units/{code}/shifts"): ADMIN,
    ("POST", "/v1/units/{code}/shifts"): ADMIN,
    ("DELETE", "/v1/shifts/{shift_id}"): ADMIN,
    ("GET", "/v1/units/{code}/on-duty"): "who is on duty at a unit, for staff: no victim data",
    ("GET", "/v1/me"): SESSION,
    ("POST", "/v1/auth/token"): SESSION,
    ("POST", "/v1/auth/revoke"): SESSION,
    ("POST", "/v1/auth/logout"): SESSION,
    ("POST", "/v1/auth/session"): SESSION,
    ("POST", "/v1/auth/session/refresh"): SESSION,
    ("POST", "/v1/auth/session/signout"): SESSION,
    ("POST", "/v1/stream/leave"): SESSION,
    ("GET", "/v1/regions"): PUBLIC,
    ("GET", "/v1/units"): PUBLIC,
    ("GET", "/v1/units/{code}"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/console"): PUBLIC,
    ("GET", "/console/"): PUBLIC,
    ("GET", "/console/map.json"): PUBLIC,
    ("GET", "/console/{name:path}"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/assets/{name}"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/problems"): PUBLIC,
    ("GET", "/problems/{slug}"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): "ready or not; loop health only with the operator's credential",
    ("GET", "/metrics"): "counters, only with the operator's credential: no personal data",
    ("WS", "/v1/stream"): "each event judged by app.realtime.scopes.message_for (policy)",
}


def test_every_route_without_an_alert_in_its_path_is_classified() -> None:
    without = {
        (method, path)
        for method, path in ROUTE_PRIORITIES
        if "{alert_id}" not in path and "{case_id}" not in path
    }
    assert sorted(without - NO_ALERT_IN_PATH.keys()) == [], "a new route: write down its reason"
    assert sorted(NO_ALERT_IN_PATH.keys() - without) == [], "a route that is gone"

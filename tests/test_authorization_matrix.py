"""Every principal against every route: allowed cells succeed, denied ones get 401/403/404 and
never any foreign data. Object-level denials are 404, so nobody learns another's alert exists."""

from __future__ import annotations

from typing import Any

import httpx

from app.context import AppContext
from tests.helpers import auth, integrator_token, press, press_body, register, staff_token

PRINCIPALS = (
    "anonymous",
    "owner",
    "other_device",
    "counselor",
    "paralegal",
    "transit_staff",
    "supervisor",
    "admin",
    "integrator_reference",
    "integrator_alerts",
)
STAFF = ("counselor", "paralegal", "transit_staff", "supervisor", "admin")
INTEGRATORS = ("integrator_reference", "integrator_alerts")
DEVICES = ("owner", "other_device")


def expect(default: int, **overrides: int) -> dict[str, int]:
    table = {p: default for p in PRINCIPALS}
    table["anonymous"] = 401
    table.update(overrides)
    return table


def only(allowed: int, who: tuple[str, ...], others: int = 403) -> dict[str, int]:
    return expect(others, **{p: allowed for p in who})


async def test_every_principal_against_every_route(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    tokens: dict[str, str] = {}
    _, tokens["owner"] = await register(client)
    _, tokens["other_device"] = await register(client)
    tokens["counselor"] = await staff_token(client, context, "konselor.kb", "counselor", "3171060")
    tokens["paralegal"] = await staff_token(client, context, "paralegal.kb", "paralegal", "3171060")
    tokens["transit_staff"] = await staff_token(
        client, context, "petugas.tj", "transit_staff", "transjakarta"
    )
    tokens["supervisor"] = await staff_token(
        client, context, "supervisor.pusat", "supervisor", "central"
    )
    tokens["admin"] = await staff_token(client, context, "admin.pusat", "admin", "central")
    tokens["integrator_reference"] = await integrator_token(client, context, ["reference:read"])
    tokens["integrator_alerts"] = await integrator_token(client, context, ["alerts:read"])
    created = await press(
        client, tokens["owner"], press_body(context, contact={"name": "CANARY-NAME"})
    )
    alert_id = created.json()["id"]
    users = (await client.get("/v1/users", headers=auth(tokens["admin"]))).json()["items"]
    user_id = users[0]["id"]
    point = {
        "points": [
            {
                "lat": -6.24,
                "lon": 106.80,
                "accuracy_m": 5,
                "fix_at": context.clock.now().isoformat(),
            }
        ]
    }

    cases: list[tuple[str, str, Any, dict[str, int]]] = [
        ("GET", "/v1/devices/me", None, only(200, ("owner", "other_device"))),
        (
            "PUT",
            "/v1/devices/me/pins",
            {"cancel_pin": "2468"},
            only(204, ("owner", "other_device")),
        ),
        ("GET", "/v1/alerts", None, only(200, ("supervisor", "admin"))),
        ("GET", f"/v1/alerts/{alert_id}", None, expect(404, owner=200, supervisor=200, admin=200)),
        (
            "POST",
            f"/v1/alerts/{alert_id}/locations",
            point,
            expect(403, owner=200, other_device=404),
        ),
        ("GET", "/v1/me", None, expect(200, owner=403, other_device=403)),
        ("GET", "/v1/users", None, only(200, ("supervisor", "admin"))),
        ("GET", "/v1/sign-in-failures", None, only(200, ("supervisor", "admin"))),
        ("PATCH", f"/v1/users/{user_id}", {"display_name": "Konselor KB"}, only(200, ("admin",))),
        (
            "POST",
            "/v1/integrators",
            {"name": "LPSK", "scopes": ["reference:read"]},
            only(201, ("admin",)),
        ),
        ("GET", "/v1/regions", None, only(200, (*STAFF, "integrator_reference"))),
        ("GET", "/v1/units", None, only(200, (*STAFF, "integrator_reference"))),
        ("GET", "/v1/units/3171060", None, only(200, (*STAFF, "integrator_reference"))),
        ("PATCH", "/v1/units/3101010", {"phones": ["021-000"]}, only(200, ("admin",))),
        ("POST", "/v1/drills", {"unit_code": "3171060"}, only(201, ("supervisor", "admin"))),
        # The owner's alert is still active, so its press joins it (200).
        ("POST", "/v1/alerts", press_body(context), expect(403, owner=200, other_device=201)),
        (
            "POST",
            f"/v1/alerts/{alert_id}/cancel",
            {"pin": "2468"},
            expect(403, owner=200, other_device=404),
        ),
    ]
    failures = []
    for method, path, body, expected in cases:
        for principal in PRINCIPALS:
            headers = auth(tokens[principal]) if principal in tokens else {}
            if method == "POST" and path == "/v1/users":
                continue
            response = await client.request(method, path, json=body, headers=headers)
            if response.status_code != expected[principal]:
                failures.append(
                    f"{principal} {method} {path}: {response.status_code} != {expected[principal]}"
                )
            if response.status_code >= 400:
                assert response.headers["content-type"] == "application/problem+json"
                assert "CANARY" not in response.text
    assert failures == []

    for principal in PRINCIPALS:
        headers = auth(tokens[principal]) if principal in tokens else {}
        body = {
            "username": f"new.{principal.replace('_', '.')}",
            "password": "x" * 16,
            "role": "counselor",
            "unit_code": "3171060",
        }
        response = await client.post("/v1/users", json=body, headers=headers)
        assert response.status_code == only(201, ("admin",))[principal], principal

    for principal in PRINCIPALS:
        headers = auth(tokens[principal]) if principal in tokens else {}
        response = await client.post("/v1/auth/logout", headers=headers)
        assert response.status_code == only(204, STAFF)[principal], principal

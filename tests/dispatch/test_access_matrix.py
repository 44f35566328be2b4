"""Every principal against every dispatch route, on an alert offered to Kebayoran Baru and
Transjakarta: the units offered it may act within their role, a post that was not offered it gets
404, integrators and phones get 403, the anonymous 401 — and no error leaks personal data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from app.context import AppContext
from tests.dispatch.staffing import drain, legs, token_on_duty
from tests.helpers import auth, integrator_token, press, press_body, register, staff_token

KB = "3171060"
PRINCIPALS = (
    "anonymous",
    "device",
    "integrator",
    "counselor",
    "paralegal",
    "transit_staff",
    "other_counselor",
    "supervisor",
    "admin",
)


def expect(**cells: int) -> dict[str, int]:
    table = {"anonymous": 401, "device": 403, "integrator": 403}
    table.update(cells)
    assert set(table) == set(PRINCIPALS), set(PRINCIPALS) - set(table)
    return table


async def test_every_principal_against_every_dispatch_route(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    tokens = {
        "counselor": await token_on_duty(client, context, "konselor.kb", "counselor", KB),
        "paralegal": await token_on_duty(client, context, "paralegal.kb", "paralegal", KB),
        "transit_staff": await token_on_duty(
            client, context, "petugas.tj", "transit_staff", "transjakarta"
        ),
        "other_counselor": await staff_token(client, context, "konselor.x", "counselor", "3174010"),
        "supervisor": await staff_token(client, context, "supervisor", "supervisor", "central"),
        "admin": await staff_token(client, context, "admin", "admin", "central"),
        "integrator": await integrator_token(client, context, ["alerts:read", "reference:read"]),
    }
    _, tokens["device"] = await register(client)
    body = press_body(context, contact={"name": "CANARY-NAME"}, message="CANARY-TEXT")
    alert_id = (await press(client, tokens["device"], body)).json()["id"]
    await drain(context)
    kb_leg = next(str(g.id) for g in await legs(context, alert_id) if g.unit_code == KB)
    now = context.clock.now()
    shift = {
        "username": "konselor.kb",
        "starts_at": (now + timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=1, hours=8)).isoformat(),
    }
    unit_reader = expect(
        counselor=200,
        paralegal=200,
        transit_staff=404,
        other_counselor=404,
        supervisor=200,
        admin=200,
    )
    alert_reader = expect(
        counselor=200,
        paralegal=200,
        transit_staff=200,
        other_counselor=404,
        supervisor=200,
        admin=200,
    )
    supervisors_only = expect(
        counselor=403,
        paralegal=403,
        transit_staff=403,
        other_counselor=403,
        supervisor=422,
        admin=422,
    )
    cases: list[tuple[str, str, Any, dict[str, int]]] = [
        (
            "GET",
            "/v1/assignments",
            None,
            expect(
                counselor=200,
                paralegal=200,
                transit_staff=200,
                other_counselor=200,
                supervisor=200,
                admin=200,
            ),
        ),
        ("GET", f"/v1/alerts/{alert_id}", None, {**alert_reader, "device": 200, "integrator": 404}),
        ("GET", f"/v1/alerts/{alert_id}/routing", None, alert_reader),
        ("GET", f"/v1/alerts/{alert_id}/timeline", None, alert_reader),
        ("GET", f"/v1/alerts/{alert_id}/notes", None, {**alert_reader, "transit_staff": 403}),
        ("GET", f"/v1/units/{KB}/shifts", None, unit_reader),
        ("GET", f"/v1/units/{KB}/on-duty", None, unit_reader),
        ("POST", f"/v1/units/{KB}/shifts", {**shift, "username": "nobody"}, supervisors_only),
        (
            "POST",
            f"/v1/alerts/{alert_id}/reassign",
            {"unit_code": "nope", "reason": "test"},
            supervisors_only,
        ),
        # Before anyone accepts: staff must accept first; supervisors meet the state machine.
        (
            "POST",
            f"/v1/alerts/{alert_id}/progress",
            {"milestone": "contacted"},
            expect(
                counselor=403,
                paralegal=403,
                transit_staff=403,
                other_counselor=404,
                supervisor=409,
                admin=409,
            ),
        ),
        (
            "POST",
            f"/v1/alerts/{alert_id}/notes",
            {"text": "CANARY-NOTE"},
            expect(
                counselor=403,
                paralegal=403,
                transit_staff=403,
                other_counselor=404,
                supervisor=201,
                admin=201,
            ),
        ),
        (
            "POST",
            f"/v1/assignments/{kb_leg}/heartbeat",
            None,
            expect(
                counselor=409,
                paralegal=409,
                transit_staff=404,
                other_counselor=404,
                supervisor=404,
                admin=404,
            ),
        ),
        (
            "POST",
            f"/v1/assignments/{kb_leg}/break",
            {"reason": "test"},
            expect(
                counselor=403,
                paralegal=403,
                transit_staff=403,
                other_counselor=403,
                supervisor=409,
                admin=409,
            ),
        ),
    ]
    failures = []
    for method, path, payload, expected in cases:
        for principal in PRINCIPALS:
            headers = auth(tokens[principal]) if principal in tokens else {}
            response = await client.request(method, path, json=payload, headers=headers)
            if response.status_code != expected[principal]:
                failures.append(
                    f"{principal} {method} {path}: {response.status_code} != {expected[principal]}"
                )
            if response.status_code >= 400:
                assert response.headers["content-type"] == "application/problem+json"
                assert "CANARY" not in response.text
    assert failures == []

"""Health, readiness, metrics, OpenAPI, and the error format at the edges."""

from __future__ import annotations

import httpx

from app.context import AppContext
from app.errors import PROBLEM_TYPES
from tests.helpers import OPS, press, press_body, register


async def test_health_ready_and_metrics(client: httpx.AsyncClient, context: AppContext) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz", headers=OPS)
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok" and ready.json()["reference_version"] >= 1
    created = 'sigap_alerts_received_total{kind="real",outcome="created"} '
    answered = 'sigap_http_requests_total{method="POST",route="/v1/alerts",status="201"} '

    def count(text: str, prefix: str) -> float:  # the registry is per process: others pressed
        line = next((li for li in text.splitlines() if li.startswith(prefix)), prefix + "0")
        return float(line.removeprefix(prefix))

    before = (await client.get("/metrics", headers=OPS)).text
    _, credential = await register(client)
    await press(client, credential, press_body(context))
    text = (await client.get("/metrics", headers=OPS)).text
    assert count(text, created) == count(before, created) + 1
    assert count(text, answered) == count(before, answered) + 1
    assert "sigap_intake_latency_seconds_bucket" in text


async def test_unknown_routes_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/not-found"
    wrong = await client.delete("/v1/alerts")
    assert wrong.status_code == 405 and wrong.json()["type"] == "/problems/method-not-allowed"


async def test_oversized_bodies_are_refused_everywhere(client: httpx.AsyncClient) -> None:
    big = b"{" + b" " * 70_000 + b"}"
    for path in ("/v1/devices", "/v1/auth/token", "/v1/users"):
        response = await client.post(
            path, content=big, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413, path
        assert response.json()["type"] == "/problems/body-too-large"


async def test_openapi_documents_every_route_and_its_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    assert {"AlertCreate", "AlertDeviceView", "Problem"} <= set(spec["components"]["schemas"])
    press_op = spec["paths"]["/v1/alerts"]["post"]
    assert press_op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/AlertCreate"
    )
    assert {"201", "200", "401", "413", "422", "409", "503"} <= set(press_op["responses"])
    assert "400" not in press_op["responses"]  # a press takes any body
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/v1/") and path != "/v1/auth/token" and path != "/v1/auth/revoke":
                errors = [code for code in operation["responses"] if code.startswith(("4", "5"))]
                assert errors, f"{method} {path} documents no errors"
    catalogue = (await client.get("/problems")).json()
    assert {p["type"] for p in catalogue} == {e.type_uri() for e in PROBLEM_TYPES}
    one = await client.get("/problems/idempotency-key-reused")
    assert one.json()["status"] == 422 and one.json()["retryable"] is False


def test_the_problem_types_page_lists_every_problem() -> None:
    """docs/problems.md is generated from app.errors: a new problem type must reach the docs."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "gen_problem_docs.py"
    check = subprocess.run([sys.executable, str(script), "--check"], check=False)
    assert check.returncode == 0, "run: python scripts/gen_problem_docs.py"


async def test_a_json_body_that_is_not_utf8_is_malformed_json(client: httpx.AsyncClient) -> None:
    _, credential = await register(client)
    response = await client.put(
        "/v1/devices/me/pins",
        content=b'{"cancel_pin": "\xdb"}',
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {credential}"},
    )
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/malformed-json"


async def test_public_routes_publish_no_token_and_the_others_a_bearer(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "security" not in spec  # nothing inherited: each operation says what it takes
    public = {
        ("get", "/healthz"),
        ("post", "/v1/devices"),
        ("post", "/v1/auth/token"),
        ("post", "/v1/auth/session"),
        ("post", "/v1/integrations/status-webhooks/{client_id}"),
    }
    for method, path in public:
        assert spec["paths"][path][method]["security"] == [], (method, path)
    for method, path in (("post", "/v1/alerts"), ("get", "/v1/alerts/{alert_id}")):
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"bearer": []}]
        assert "401" in operation["responses"]
    parsed = spec["paths"]["/v1/devices/me/pins"]["put"]["responses"]
    assert {"400", "413", "415", "422"} <= set(parsed)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    report = spec["paths"]["/v1/reports/sla"]["get"]["responses"]["503"]["description"]
    assert "/problems/service-unavailable" in report and "/problems/overloaded" in report
    accept = spec["paths"]["/v1/assignments/{assignment_id}/accept"]["post"]["responses"]
    assert "/problems/overloaded" not in accept["503"]["description"]  # never shed


def test_text_longer_than_published_is_refused_even_when_trimming_would_shorten_it() -> None:
    import pydantic
    import pytest

    from app.schemas.integrations import ChannelAlertCreate

    schema = ChannelAlertCreate.model_json_schema()["properties"]["reference"]
    padded = " " + "R" * schema["maxLength"]
    with pytest.raises(pydantic.ValidationError) as refused:
        ChannelAlertCreate.model_validate({"reference": padded, "channel": "sapa129"})
    assert any(e["type"] == "string_too_long" for e in refused.value.errors())

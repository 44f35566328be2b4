"""What anyone may read about the service says nothing that moves with an alert (issue 21):
``/metrics`` and ``/readyz``'s details answer only the operator's credential; ``/healthz`` and the
public ``/readyz`` say alive / ready and nothing else."""

from __future__ import annotations

import logging
from dataclasses import replace

import httpx
import pytest
from pydantic import SecretStr

from app.context import AppContext
from app.main import create_app, start
from tests.helpers import OPS, press, press_body, register


async def test_metrics_answer_only_the_operator_credential(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        refused = await client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["type"] == "/problems/unauthenticated"
        assert "sigap_" not in refused.text
        assert refused.headers["www-authenticate"].startswith("Bearer")
    allowed = await client.get("/metrics", headers=OPS)
    assert allowed.status_code == 200 and "sigap_alerts" in allowed.text


async def test_public_readiness_says_only_ready(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    await press(client, credential, press_body(context))
    public = await client.get("/readyz")
    assert public.status_code == 200
    assert public.json() == {"status": "ready"}
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    detailed = (await client.get("/readyz", headers=OPS)).json()
    assert detailed["status"] == "ready" and detailed["database"] == "ok"
    assert "loops" in detailed and "reference_version" in detailed
    wrong = await client.get("/readyz", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401 and "loops" not in wrong.text


async def test_an_upgrade_without_the_token_starts_refuses_metrics_and_says_why(
    context: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    settings = context.settings.model_copy(
        update={"ops": context.settings.ops.model_copy(update={"metrics_token": SecretStr("")})}
    )
    upgraded = replace(context, settings=settings)
    with caplog.at_level(logging.WARNING, logger="sigap.health"):
        await start(upgraded)  # never a start failure
    assert any("SIGAP_OPS__METRICS_TOKEN" in r.getMessage() for r in caplog.records)
    app = create_app(context=upgraded, run_loops=False)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sigap.test") as http:
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer x"}):
            refused = await http.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert "SIGAP_OPS__METRICS_TOKEN" in refused.json()["detail"]
        assert (await http.get("/readyz")).json() == {"status": "ready"}
        _, credential = await register(http)
        assert (await press(http, credential, press_body(upgraded))).status_code == 201

"""HSTS (issue 21): a deployment served over HTTPS tells browsers never to use plain HTTP."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from app.context import AppContext
from app.main import create_app


@pytest.mark.parametrize(
    ("public_url", "expected"),
    [("https://sigap.example.go.id", "max-age=31536000"), ("http://127.0.0.1:8000", None)],
)
async def test_strict_transport_security_follows_the_public_url(
    context: AppContext, public_url: str, expected: str | None
) -> None:
    console = context.settings.console.model_copy(update={"public_url": public_url})
    settings = context.settings.model_copy(update={"console": console})
    app = create_app(context=replace(context, settings=settings), run_loops=False)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://sigap.test") as http:
        for response in (
            await http.get("/healthz"),
            await http.get("/v1/nothing-here"),  # a problem answer too
            await http.post("/v1/devices", content=b"x" * 70_000),  # refused at the edge
        ):
            assert response.headers.get("strict-transport-security") == expected
            assert response.headers["x-content-type-options"] == "nosniff"

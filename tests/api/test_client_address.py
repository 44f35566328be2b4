"""The real client address (issue 21): behind the documented proxy a client cannot choose the
address the per-network limits count, and production refuses to trust every connection."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from app.cli import cmd_serve
from app.config import Settings, trusted_proxies_refusal
from app.context import AppContext
from app.main import UnsafeSettings, build_context, create_app
from app.models import RateLimitCounter, SignInThrottle

PROXY = "10.0.0.5"
REAL = "203.0.113.50"
SPOOFED = ("198.51.100.1", "198.51.100.2", "192.0.2.77")


@pytest.fixture
async def behind_proxy(context: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    """The app as ``sigap serve --forwarded-allow-ips 10.0.0.5`` serves it: uvicorn's own
    Config wraps it in uvicorn's ProxyHeadersMiddleware, and every connection comes from the
    proxy."""
    config = uvicorn.Config(create_app(context=context, run_loops=False), forwarded_allow_ips=PROXY)
    config.load()
    transport = httpx.ASGITransport(app=config.loaded_app, client=(PROXY, 44000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sigap.test") as http:
        yield http


async def counted(context: AppContext, prefix: str) -> dict[str, int]:
    async with context.sessions() as session:
        rows = (
            await session.execute(
                select(RateLimitCounter.key, RateLimitCounter.count).where(
                    RateLimitCounter.key.startswith(prefix)
                )
            )
        ).all()
    return {key: count for key, count in rows}


async def test_a_spoofed_forwarded_for_counts_against_the_real_address(
    behind_proxy: httpx.AsyncClient, context: AppContext
) -> None:
    for spoofed in SPOOFED:
        # nginx's $proxy_add_x_forwarded_for appends the address it saw to what the client sent;
        # the documented $remote_addr replaces it. Either way the real address is counted.
        for forwarded in (f"{spoofed}, {REAL}", REAL):
            headers = {"X-Forwarded-For": forwarded}
            registered = await behind_proxy.post(
                "/v1/devices", json={"platform": "android"}, headers=headers
            )
            assert registered.status_code == 201
            failed = await behind_proxy.post(
                "/v1/auth/token",
                data={"grant_type": "password", "username": "nobody", "password": "guess"},
                headers=headers,
            )
            assert failed.status_code in (400, 401, 429)  # 429: the account's back-off
    assert await counted(context, "register:") == {f"register:{REAL}": 6}
    assert await counted(context, "signin:") == {f"signin:{REAL}": 6}
    async with context.sessions() as session:
        networks = set(await session.scalars(select(SignInThrottle.network)))
    assert networks - {None} == {REAL}  # the back-off per account and network


async def test_a_direct_client_is_its_own_address(context: AppContext) -> None:
    """A connection that is not from a trusted proxy: its header is ignored."""
    config = uvicorn.Config(create_app(context=context, run_loops=False), forwarded_allow_ips=PROXY)
    config.load()
    transport = httpx.ASGITransport(app=config.loaded_app, client=(REAL, 44000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sigap.test") as http:
        await http.post(
            "/v1/devices", json={"platform": "android"}, headers={"X-Forwarded-For": SPOOFED[0]}
        )
    assert await counted(context, "register:") == {f"register:{REAL}": 1}


PRODUCTION = {
    "security": {"secret_key": "p" * 48, "encryption_keys": "k1:" + "A" * 43},
    "database_url": "sqlite:///unused.db",
}


@pytest.mark.parametrize("value", ["*", "10.0.0.5, *"])
def test_production_refuses_to_trust_every_connection(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    production = Settings(**PRODUCTION)  # type: ignore[arg-type]
    assert production.is_production
    assert trusted_proxies_refusal(value, production) is not None
    args = argparse.Namespace(forwarded_allow_ips=value, role="all", workers=1)
    assert cmd_serve(args, production) == 2  # before migrating or serving anything
    assert "FORWARDED_ALLOW_IPS" in capsys.readouterr().err
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", value)  # uvicorn started by hand
    args.forwarded_allow_ips = None
    assert cmd_serve(args, production) == 2
    with pytest.raises(UnsafeSettings, match="FORWARDED_ALLOW_IPS"):
        build_context(production)
    development = Settings(**PRODUCTION, environment="development")  # type: ignore[arg-type]
    assert trusted_proxies_refusal(value, development) is None
    assert trusted_proxies_refusal("10.0.0.5,10.0.1.0/24", production) is None


def test_the_image_trusts_no_forwarded_header_by_default() -> None:
    dockerfile = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    lines = dockerfile.splitlines()
    command = next(line for line in lines if line.startswith("CMD"))
    assert "forwarded-allow-ips" not in command
    assert not [line for line in lines if line.startswith("ENV") and "FORWARDED" in line]

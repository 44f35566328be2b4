"""Caps on sockets: per network before authentication, per credential after; a refusal is a
distinct close code (4029) and a log line, and a slot comes back when a socket closes."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from app.context import AppContext
from tests.helpers import register, staff_token
from tests.realtime.live import Live, live_server, stream


async def test_a_staff_member_past_the_cap_is_refused_4029_and_logged(
    client: httpx.AsyncClient,
    context: AppContext,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(context.settings.realtime, "streams_per_staff", 2)
    token = await staff_token(client, context, "konselor", "counselor", "3171060")
    colleague = await staff_token(client, context, "konselor.b", "counselor", "3171060")
    caplog.set_level(logging.WARNING, logger="sigap.stream")
    async with live_server(context) as live:
        async with stream(live.base, token), stream(live.base, token):
            async with stream(live.base, token, expect_ready=False) as third:
                code, received = await third.closed_with()
            assert (code, received) == (4029, [])
            # Another person behind the same network is not affected.
            async with stream(live.base, colleague) as other:
                assert other.ready["type"] == "ready"
        # Both closed: the slots are free again.
        async with stream(live.base, token) as again:
            assert again.ready["type"] == "ready"
    refusals = [r for r in caplog.records if "stream refused" in r.getMessage()]
    assert len(refusals) == 1 and "staff:" in refusals[0].getMessage()


async def test_a_device_holds_only_a_few_sockets(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    cap = context.settings.realtime.streams_per_device
    async with live_server(context) as live:
        held = [stream(live.base, credential) for _ in range(cap)]
        for socket in held:
            await socket.__aenter__()
        try:
            async with stream(live.base, credential, expect_ready=False) as extra:
                code, _ = await extra.closed_with()
            assert code == 4029
        finally:
            for socket in held:
                await socket.__aexit__(None, None, None)


async def counted_waiting(live: Live, sockets: int) -> None:
    """Until the server counted ``sockets`` handshakes from here (a bound only against a hang)."""
    async with asyncio.timeout(10):
        while True:
            if live.hub.caps.waiting("127.0.0.1") >= sockets:
                return
            await asyncio.sleep(0.01)


async def test_unauthenticated_sockets_per_network_are_capped_until_one_authenticates(
    client: httpx.AsyncClient, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context.settings.realtime, "unauthenticated_per_network", 2)
    token = await staff_token(client, context, "supervisor", "supervisor", "central")
    async with live_server(context) as live, stream(live.base) as first, stream(live.base):
        await counted_waiting(live, 2)
        async with stream(live.base) as third:
            code, received = await third.closed_with()
        assert (code, received) == (4029, [])
        # Authenticating frees the slot: the next socket from this network is let in.
        await first.send({"type": "auth", "token": token})
        assert (await first.receive())["type"] == "ready"
        async with stream(live.base, token) as fourth:
            assert fourth.ready["type"] == "ready"

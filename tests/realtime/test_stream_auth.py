"""Authentication on /v1/stream: first message within the deadline, never from the URL, from an
allowed origin; expiry and revocation close the socket; nothing is sent before auth succeeds."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from app.clock import FrozenClock
from app.context import AppContext
from app.models import StaffUser
from tests.helpers import sign_in, staff_token
from tests.realtime.live import live_server, stream


async def test_no_auth_message_in_time_closes_4001_with_nothing_sent(
    client, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context.settings.realtime, "auth_timeout_s", 0.3)
    async with live_server(context) as live, stream(live.base) as ws:
        code, received = await ws.closed_with()
    assert (code, received) == (4001, [])


async def test_a_bad_token_closes_4003_with_nothing_sent(client, context: AppContext) -> None:
    async with (
        live_server(context) as live,
        stream(live.base, "not-a-token", expect_ready=False) as ws,
    ):
        code, received = await ws.closed_with()
    assert (code, received) == (4003, [])


async def test_a_token_in_the_url_is_refused_even_if_valid(client, context: AppContext) -> None:
    token = await staff_token(client, context, "supervisor", "supervisor", "central")
    async with (
        live_server(context) as live,
        stream(live.base, token, path=f"/v1/stream?token={token}", expect_ready=False) as ws,
    ):
        code, received = await ws.closed_with()
    assert (code, received) == (4003, [])


async def test_a_malformed_first_message_closes_4400(client, context: AppContext) -> None:
    async with live_server(context) as live, stream(live.base) as ws:
        await ws.connection.send("[1, 2]")
        code, received = await ws.closed_with()
    assert (code, received) == (4400, [])


async def test_a_foreign_browser_origin_is_refused(client, context: AppContext) -> None:
    token = await staff_token(client, context, "supervisor", "supervisor", "central")
    async with live_server(context) as live:
        async with stream(
            live.base, token, origin="https://evil.example", expect_ready=False
        ) as ws:
            code, received = await ws.closed_with()
        assert (code, received) == (4003, [])
        same_site = live.base.replace("ws://", "http://")
        async with stream(live.base, token, origin=same_site) as ws:
            assert ws.ready["type"] == "ready"


async def test_an_expired_token_closes_4008(
    client, context: AppContext, clock: FrozenClock
) -> None:
    token = await staff_token(client, context, "supervisor", "supervisor", "central")
    clock.advance(601)
    async with live_server(context) as live, stream(live.base, token, expect_ready=False) as ws:
        code, received = await ws.closed_with()
    assert (code, received) == (4008, [])


async def test_expiry_mid_session_closes_4008_and_a_fresh_auth_extends_it(
    client, context: AppContext, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context.settings.realtime, "revalidate_s", 0.05)
    token = await staff_token(client, context, "supervisor", "supervisor", "central")
    async with live_server(context) as live:
        async with stream(live.base, token) as ws:
            clock.advance(500)
            fresh = (await sign_in(client, "supervisor"))["access_token"]
            await ws.send({"type": "auth", "token": fresh})
            # Messages are handled in order: the pong means the fresh token is in use, so moving
            # the clock cannot race the server's expiry watch.
            await ws.send({"type": "ping"})
            assert (await ws.receive())["type"] == "pong"
            clock.advance(200)  # the first token has expired; the fresh one has not
            await ws.send({"type": "ping"})
            assert (await ws.receive())["type"] == "pong"
        async with stream(live.base, fresh) as ws:
            clock.advance(500)  # past the fresh token's expiry too
            code, _ = await ws.closed_with()
        assert code == 4008


async def test_a_disabled_account_is_disconnected(
    client, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context.settings.realtime, "revalidate_s", 0.05)
    token = await staff_token(client, context, "konselor", "counselor", "3171060")
    async with live_server(context) as live, stream(live.base, token) as ws:
        async with context.sessions() as session:
            user = await session.scalar(select(StaffUser).where(StaffUser.username == "konselor"))
            assert user is not None
            user.disabled_at = context.clock.now()
            await session.commit()
        code, _ = await ws.closed_with()
    assert code == 4003


async def test_ping_is_answered_and_another_identity_cannot_take_over(
    client, context: AppContext
) -> None:
    first = await staff_token(client, context, "konselor.a", "counselor", "3171060")
    second = await staff_token(client, context, "konselor.b", "counselor", "3171060")
    async with live_server(context) as live, stream(live.base, first) as ws:
        await ws.send({"type": "ping"})
        assert await ws.receive() == {"type": "pong"}
        await ws.send({"type": "auth", "token": second})
        code, _ = await ws.closed_with()
    assert code == 4003


async def test_a_token_sent_in_the_url_never_reaches_the_log(client, context: AppContext) -> None:
    token = await staff_token(client, context, "supervisor", "supervisor", "central")
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("uvicorn.error")  # where uvicorn logs websocket handshakes
    handler = Keep(level=logging.INFO)
    logger.addHandler(handler)
    try:
        async with (
            live_server(context, log_level="info") as live,
            stream(live.base, token, path=f"/v1/stream?token={token}", expect_ready=False) as ws,
        ):
            await ws.closed_with()
    finally:
        logger.removeHandler(handler)
    text = "\n".join(lines)
    assert "/v1/stream" in text  # the line is there ...
    assert token not in text  # ... without the secret

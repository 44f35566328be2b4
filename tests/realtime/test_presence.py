"""Live presence: with presence required, a rostered counselor is on duty only while their
console is connected (or was, within the grace)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import select

from app.clock import FrozenClock
from app.context import AppContext
from app.events import ACCESS_CHANGED, PRESENCE_ENDED
from app.models import OutboxEvent, StaffPresence, StaffUser
from app.realtime.presence import DatabasePresence, flush
from tests.dispatch.staffing import drain, legs, token_on_duty
from tests.helpers import PASSWORD, auth, make_staff, press, press_body, register
from tests.realtime.live import live_server, stream

KB = "3171060"
CSRF = {"X-Sigap-Console": "1"}


async def first_offer(client: httpx.AsyncClient, context: AppContext) -> str:
    _, credential = await register(client)
    alert_id = (await press(client, credential, press_body(context))).json()["id"]
    await drain(context)
    return next(g.unit_code for g in await legs(context, alert_id))


async def test_a_rostered_counselor_counts_only_with_a_live_console(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    live_context = replace(context, presence=DatabasePresence(grace_s=120))
    token = await token_on_duty(client, live_context, "konselor.kb", "counselor", KB)

    assert await first_offer(client, live_context) == "central"  # rostered, console closed

    async with context.sessions() as session:
        staff_id = await session.scalar(
            select(StaffUser.id).where(StaffUser.username == "konselor.kb")
        )
    async with live_server(live_context) as live, stream(live.base, token):
        # The connect is written at once, not at the next periodic flush (the bound is only
        # against a hang on a busy machine).
        async with asyncio.timeout(30):
            while True:
                async with context.sessions() as session:
                    if await session.get(StaffPresence, staff_id) is not None:
                        break
                await asyncio.sleep(0.02)
        assert await first_offer(client, live_context) == KB
        on_duty = await client.get(f"/v1/units/{KB}/on-duty", headers=auth(token))
        assert on_duty.json()["present"] == ["konselor.kb"]

    clock.advance(121)  # the console went away longer ago than the grace
    assert await first_offer(client, live_context) == "central"


CEILING_S = 10.0
"""Waits are for a mechanism to act, with a ceiling only against a hang on a busy machine."""


async def presence_row(context: AppContext, staff_id: uuid.UUID) -> StaffPresence | None:
    async with context.sessions() as session:
        return await session.get(StaffPresence, staff_id)


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(CEILING_S):
        while True:
            if await check():
                return
            await asyncio.sleep(0.02)


async def announcements(context: AppContext, kind: str, staff_id: uuid.UUID) -> int:
    async with context.sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.event_type == kind)
        )
        return sum(p.get("subject") == f"staff:{staff_id}" for p in rows.all())


async def console_sign_in(
    client: httpx.AsyncClient, context: AppContext, username: str
) -> tuple[uuid.UUID, str, str]:
    """(staff id, access token, refresh cookie) of a console sign-in."""
    await make_staff(context, username, "counselor", KB)
    response = await client.post(
        "/v1/auth/session",
        json={"username": username, "password": PASSWORD},
        headers=CSRF,
    )
    assert response.status_code == 200, response.text
    cookie = response.cookies["sigap_refresh"]
    client.cookies.clear()  # Secure cookies: sent by hand over plain http
    async with context.sessions() as session:
        staff_id = await session.scalar(select(StaffUser.id).where(StaffUser.username == username))
    assert staff_id is not None
    return staff_id, response.json()["access_token"], cookie


async def test_signing_out_ends_presence_at_once(
    client: httpx.AsyncClient, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context.settings.realtime, "revalidate_s", 3600.0)  # not the tick
    staff_id, token, cookie = await console_sign_in(client, context, "konselor.kb")
    async with live_server(context) as live, stream(live.base, token) as ws:
        await until(lambda: has_row(context, staff_id))
        out = await client.post(
            "/v1/auth/session/signout", headers={**CSRF, "Cookie": f"sigap_refresh={cookie}"}
        )
        assert out.status_code == 204
        # The mechanism: the sign-out's own transaction ended presence and announced it.
        assert await presence_row(context, staff_id) is None
        assert await announcements(context, ACCESS_CHANGED, staff_id) == 1
        # ... and the announcement closed the signed-out session's stream, in whatever process.
        code, _ = await ws.closed_with(wait_s=CEILING_S)
        assert code == 4003
        # The closed socket was the person's last: its process ended their presence too (and
        # said so), after which nothing writes it back.
        await until(lambda: ended_announced(context, staff_id, 1))
        assert await presence_row(context, staff_id) is None


async def has_row(context: AppContext, staff_id: uuid.UUID) -> bool:
    return await presence_row(context, staff_id) is not None


async def ended_announced(context: AppContext, staff_id: uuid.UUID, count: int) -> bool:
    return await announcements(context, PRESENCE_ENDED, staff_id) >= count


async def no_socket(context: AppContext, staff_id: uuid.UUID) -> bool:
    return context.presence_tracker.holds(staff_id) == 0


async def test_a_clean_close_ends_presence_at_once(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    staff_id, token, _ = await console_sign_in(client, context, "konselor.kb")
    async with live_server(context) as live:
        async with stream(live.base, token):
            await until(lambda: has_row(context, staff_id))
        # The close frame (1000) reached the server: presence ended and was announced, with
        # the frozen clock unmoved, so no grace ran out.
        await until(lambda: no_row(context, staff_id))
        assert await announcements(context, PRESENCE_ENDED, staff_id) == 1


async def no_row(context: AppContext, staff_id: uuid.UUID) -> bool:
    return await presence_row(context, staff_id) is None


async def test_after_an_unclean_drop_presence_lasts_the_grace(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    grace = context.settings.realtime.presence_grace_s
    assert 45 <= grace <= 60  # beyond the console's reconnect back-off (at most 5 s)
    staff_id, token, _ = await console_sign_in(client, context, "konselor.kb")
    async with live_server(context) as live, stream(live.base, token) as ws:
        await until(lambda: has_row(context, staff_id))
        ws.connection.transport.abort()  # no close frame: a tunnel, a dead battery
        await until(lambda: no_socket(context, staff_id))
    await flush(context.sessions, context.presence_tracker, context.clock)
    row = await presence_row(context, staff_id)
    assert row is not None
    assert await announcements(context, PRESENCE_ENDED, staff_id) == 0
    dispatcher = DatabasePresence(grace)
    async with context.sessions() as session:
        clock.advance(grace - 1)
        assert await dispatcher.present(session, {staff_id}, clock.now()) == {staff_id}
        clock.advance(2)
        assert await dispatcher.present(session, {staff_id}, clock.now()) == set()


async def test_the_pages_beacon_ends_presence_and_closes_its_stream(
    client: httpx.AsyncClient, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context.settings.realtime, "revalidate_s", 3600.0)
    staff_id, token, _ = await console_sign_in(client, context, "konselor.kb")
    async with live_server(context) as live, stream(live.base, token) as ws:
        await until(lambda: has_row(context, staff_id))
        # As navigator.sendBeacon sends it: text/plain, the token in the body.
        beacon = await client.post(
            "/v1/stream/leave",
            content=json.dumps({"token": token}),
            headers={"Content-Type": "text/plain;charset=UTF-8"},
        )
        assert beacon.status_code == 204
        assert await presence_row(context, staff_id) is None
        code, _ = await ws.closed_with(wait_s=CEILING_S)
        assert code == 1000  # the page is gone: the server closed its socket
        # The beacon's announcement, then the socket's process's own end (its last socket).
        await until(lambda: ended_announced(context, staff_id, 2))
        assert await presence_row(context, staff_id) is None
    forged = await client.post("/v1/stream/leave", content=json.dumps({"token": "nope"}))
    assert forged.status_code == 401
    assert forged.headers["content-type"].startswith("application/problem+json")

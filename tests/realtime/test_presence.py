"""Live presence: with presence required, a rostered counselor is on duty only while their
console is connected (or was, within the grace)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
from sqlalchemy import select

from app.clock import FrozenClock
from app.context import AppContext
from app.models import StaffPresence, StaffUser
from app.realtime.presence import DatabasePresence
from tests.dispatch.staffing import drain, legs, token_on_duty
from tests.helpers import auth, press, press_body, register
from tests.realtime.live import live_server, stream

KB = "3171060"


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

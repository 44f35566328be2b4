"""A flood never buries a real press: the dispatcher takes real presses before drills, however
many drills are due and however long they have waited. Nothing else lowers a press's priority:
a press with no location or an unreadable body is what a panicked press from a buggy app looks
like, and is routed like any other real press."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from app.clock import FrozenClock
from app.context import AppContext
from app.dispatch.worker import run_due
from app.models import Alert
from tests.dispatch.staffing import on_duty
from tests.helpers import press, press_body, register

KEBAYORAN_BARU = "3171060"


async def pressed(client: httpx.AsyncClient, body: dict[str, object]) -> uuid.UUID:
    _, credential = await register(client)
    response = await press(client, credential, body)
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def states(context: AppContext) -> dict[uuid.UUID, str]:
    async with context.sessions() as session:
        return dict((await session.execute(select(Alert.id, Alert.state))).tuples().all())


async def test_a_real_press_is_routed_before_drills_that_waited_longer(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await on_duty(context, "konselor.kb", KEBAYORAN_BARU)
    drills = [await pressed(client, press_body(context, is_drill=True)) for _ in range(6)]
    clock.advance(5)
    real = await pressed(client, press_body(context))
    no_location = await pressed(client, {"pressed_at": clock.now().isoformat()})

    assert await run_due(context, limit=2) == 2
    after = await states(context)
    assert after[real] == after[no_location] == "routed"
    assert all(after[d] == "received" for d in drills)

    assert await run_due(context) == 6  # then the drills, every one of them
    assert set((await states(context)).values()) == {"routed"}

"""A renewed claim keeps its lease timer, and a repeat press on a held alert tells its holder
(and, once the holder has been silent long enough, the supervisor on duty): the press queues a
task, the dispatcher tells them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from app.clock import FrozenClock
from app.context import AppContext
from app.models import Assignment, DispatchTask, Notification
from tests.dispatch.staffing import drain, legs, on_duty, post, token_on_duty
from tests.helpers import press, press_body, register

KB = "3171060"


async def held_alert(
    client: httpx.AsyncClient, context: AppContext
) -> tuple[str, str, uuid.UUID, uuid.UUID]:
    """(alert id, device credential, KB leg id, holder id) of an alert KB's counselor accepted."""
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    _, credential = await register(client)
    alert_id = str((await press(client, credential, press_body(context))).json()["id"])
    await drain(context)
    leg = next(g for g in await legs(context, alert_id) if g.unit_code == KB)
    assert (await post(client, f"/v1/assignments/{leg.id}/accept", token)).status_code == 200
    holder = next(g for g in await legs(context, alert_id) if g.id == leg.id).accepted_by
    assert holder is not None
    return alert_id, credential, leg.id, holder


async def test_a_lease_renewed_behind_its_timer_still_lapses_at_its_new_end(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    alert_id, _, leg_id, _ = await held_alert(client, context)
    lease_s = context.settings.dispatch.lease_s
    # The lease renewed without moving its timer (a renewal racing the timer's run): the timer
    # fires at the old end, finds the lease renewed and must reschedule itself, not vanish.
    async with context.sessions() as session:
        await session.execute(
            update(Assignment)
            .where(Assignment.id == leg_id)
            .values(lease_expires_at=clock.now() + timedelta(seconds=lease_s + 300))
        )
        await session.commit()
    clock.advance(lease_s)
    await drain(context)
    async with context.sessions() as session:
        timer = await session.scalar(
            select(DispatchTask).where(
                DispatchTask.kind == "lease_expiry", DispatchTask.ref == str(leg_id)
            )
        )
    assert timer is not None and timer.attempts == 0
    assert [g.status for g in await legs(context, alert_id) if g.id == leg_id] == ["accepted"]

    clock.advance(300)  # the renewed lease's end
    await drain(context)
    kb = [(g.step, g.status) for g in await legs(context, alert_id) if g.unit_code == KB]
    assert kb == [(0, "lapsed"), (1, "offered")]


async def notifications(context: AppContext) -> list[tuple[uuid.UUID, str]]:
    async with context.sessions() as session:
        rows = await session.execute(
            select(Notification.recipient_id, Notification.kind)
            .where(Notification.kind.in_(["repeat_press", "escalation"]))
            .order_by(Notification.created_at, Notification.kind)
        )
        return [(r, k) for r, k in rows.all()]


async def test_a_repeat_press_tells_the_holder_and_a_silent_holders_supervisor(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    supervisor = await on_duty(context, "supervisor", "central", role="supervisor")
    alert_id, credential, _, holder = await held_alert(client, context)

    clock.advance(30)
    again = await press(client, credential, press_body(context))
    assert again.status_code == 200 and again.json()["id"] == alert_id
    assert await notifications(context) == []  # the press itself only queues the task
    assert await drain(context) == 1
    assert await notifications(context) == [(holder, "repeat_press")]

    # The holder silent for longer than the quiet time: the supervisor is told too.
    clock.advance(context.settings.dispatch.repeat_press_supervisor_after_s)
    await press(client, credential, press_body(context))
    await drain(context)
    assert await notifications(context) == [
        (holder, "repeat_press"),
        (supervisor, "escalation"),
        (holder, "repeat_press"),
    ]


async def test_a_repeat_press_before_anyone_accepted_tells_nobody_new(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await on_duty(context, "konselor.kb", KB)
    _, credential = await register(client)
    await press(client, credential, press_body(context))
    await drain(context)
    clock.advance(30)
    await press(client, credential, press_body(context))
    await drain(context)
    assert await notifications(context) == []  # the offers and the SLA clocks chase it

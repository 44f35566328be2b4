"""On call versus at the post: who counts as available, who the notifier reaches, what the
routing explanation says, and what a unit learns once its leg has passed on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from app.clock import FrozenClock
from app.context import AppContext
from app.models import Notification, RoutingDecision, StaffPresence, StaffUser
from app.realtime.presence import DatabasePresence
from tests.dispatch.staffing import drain, legs, on_duty
from tests.helpers import auth, press, press_body, register, staff_token

KB, KL = "3171060", "3171050"  # Kebayoran Baru (nearest to Blok M), Kebayoran Lama


@pytest.fixture
def live_presence(context: AppContext) -> Iterator[None]:
    """As in production: at-post shifts count only with a console seen recently."""
    before = context.presence
    context.presence = DatabasePresence(120.0)
    try:
        yield
    finally:
        context.presence = before


async def seen(context: AppContext, staff_id: uuid.UUID) -> None:
    async with context.sessions() as session:
        session.add(StaffPresence(staff_id=staff_id, last_seen_at=context.clock.now()))
        await session.commit()


async def press_at_blok_m(client: httpx.AsyncClient, context: AppContext) -> str:
    _, credential = await register(client)
    response = await press(client, credential, press_body(context))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def offers_to(context: AppContext) -> list[tuple[str, str]]:
    async with context.sessions() as session:
        rows = await session.execute(
            select(StaffUser.username, Notification.text)
            .join(StaffUser, StaffUser.id == Notification.recipient_id)
            .where(Notification.kind == "offer")
            .order_by(StaffUser.username)
        )
        return [(name, text) for name, text in rows.all()]


async def availability(context: AppContext) -> dict[str, dict[str, int]]:
    async with context.sessions() as session:
        decision = await session.scalar(select(RoutingDecision).order_by(RoutingDecision.step))
        assert decision is not None
        result: dict[str, dict[str, int]] = decision.decision["availability"]
        return result


@pytest.mark.usefixtures("live_presence")
async def test_an_on_call_counselor_without_a_console_is_offered_by_message_with_a_link(
    client: httpx.AsyncClient, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    await on_duty(context, "konselor.post", KB)  # at the post, console closed: not available
    await on_duty(context, "konselor.malam", KB, kind="on_call")
    monkeypatch.setattr(context.settings.console, "public_url", "https://sigap.example.id/")
    alert_id = await press_at_blok_m(client, context)
    await drain(context)

    assert next((g.unit_code, g.status) for g in await legs(context, alert_id)) == (KB, "offered")
    assert await availability(context) == {KB: {"at_post": 0, "on_call": 1}}
    [(who, text)] = [o for o in await offers_to(context) if o[0].startswith("konselor.")]
    assert who == "konselor.malam"
    assert f"https://sigap.example.id/console/#/alert/{alert_id}" in text
    assert "Kec. Kebayoran Baru" in text and text.startswith("Sigap SGP-")


@pytest.mark.usefixtures("live_presence")
async def test_at_the_post_without_a_console_is_not_available_and_with_one_gets_no_message(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await on_duty(context, "konselor.kb", KB)  # console closed
    present = await on_duty(context, "konselor.kl", KL)
    await seen(context, present)
    alert_id = await press_at_blok_m(client, context)
    await drain(context)

    assert next(g.unit_code for g in await legs(context, alert_id)) == KL
    assert await availability(context) == {KL: {"at_post": 1, "on_call": 0}}
    assert not [o for o in await offers_to(context) if o[0].startswith("konselor.")]


@pytest.mark.usefixtures("live_presence")
async def test_an_on_call_counselor_with_the_console_open_counts_at_the_post(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    staff_id = await on_duty(context, "konselor.kb", KB, kind="on_call")
    await seen(context, staff_id)
    await press_at_blok_m(client, context)
    await drain(context)

    assert await availability(context) == {KB: {"at_post": 1, "on_call": 0}}
    assert not [o for o in await offers_to(context) if o[0].startswith("konselor.")]


async def test_shifts_take_a_kind_and_on_duty_lists_who_is_on_call(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    supervisor = await staff_token(client, context, "supervisor.pusat", "supervisor", "central")
    await staff_token(client, context, "konselor.malam", "counselor", KB)
    now = context.clock.now()
    body = {
        "username": "konselor.malam",
        "starts_at": (now - timedelta(minutes=5)).isoformat(),
        "ends_at": (now + timedelta(hours=8)).isoformat(),
        "kind": "on_call",
    }
    created = await client.post(f"/v1/units/{KB}/shifts", headers=auth(supervisor), json=body)
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "on_call"
    wrong = await client.post(
        f"/v1/units/{KB}/shifts", headers=auth(supervisor), json={**body, "kind": "sometimes"}
    )
    assert wrong.status_code == 422
    assert wrong.headers["content-type"].startswith("application/problem+json")
    duty = (await client.get(f"/v1/units/{KB}/on-duty", headers=auth(supervisor))).json()
    assert duty["on_call"] == ["konselor.malam"] and duty["members"] == ["konselor.malam"]


async def test_a_unit_whose_leg_closed_learns_only_where_the_alert_went(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    kb = await staff_token(client, context, "konselor.kb", "counselor", KB)
    await on_duty(context, "konselor.kb", KB, kind="on_call")
    await on_duty(context, "konselor.kl", KL)
    other = await staff_token(client, context, "konselor.gambir", "counselor", "3173080")
    alert_id = await press_at_blok_m(client, context)
    await drain(context)

    mine = (await client.get(f"/v1/alerts/{alert_id}/passed-on", headers=auth(kb))).json()
    assert mine["open_for_you"] is True and mine["passed_to"] == []
    clock.advance(70)  # KB's offer times out: the ladder moves on to Kebayoran Lama
    await drain(context)

    answer = await client.get(f"/v1/alerts/{alert_id}/passed-on", headers=auth(kb))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "alert_id": alert_id,
        "unit_code": KB,
        "open_for_you": False,
        "passed_to": [KL],
        "alert_closed": False,
    }
    foreign = await client.get(f"/v1/alerts/{alert_id}/passed-on", headers=auth(other))
    assert foreign.status_code == 404

"""The dispatcher on the real database with a frozen clock: first offers, dual transit dispatch,
skip-ahead, timeouts, the central desk, the 112 hand-off, leases and re-routing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.clock import FrozenClock
from app.context import AppContext
from app.models import Alert, Notification, RoutingDecision, Unit
from tests.dispatch.staffing import all_posts_staffed, drain, event_names, legs, on_duty
from tests.helpers import auth, press, press_body, register

KEBAYORAN_BARU, KEBAYORAN_LAMA, MAMPANG, GAMBIR = "3171060", "3171050", "3171070", "3173080"


async def press_at_blok_m(client: httpx.AsyncClient, context: AppContext, **fields: object) -> str:
    _, credential = await register(client)
    response = await press(client, credential, press_body(context, **fields))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def alert_row(context: AppContext, alert_id: str) -> Alert:
    async with context.sessions() as session:
        alert = await session.get(Alert, uuid.UUID(alert_id))
        assert alert is not None
        return alert


async def test_blok_m_goes_to_the_nearest_post_and_transjakarta_in_parallel(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await on_duty(context, "konselor.kb", KEBAYORAN_BARU)
    await on_duty(context, "konselor.kl", KEBAYORAN_LAMA)
    await on_duty(context, "petugas.tj", "transjakarta", role="transit_staff")
    alert_id = await press_at_blok_m(client, context)

    assert await drain(context) == 1
    offered = await legs(context, alert_id)
    assert [(g.unit_code, g.leg_kind, g.status, g.step) for g in offered] == [
        (KEBAYORAN_BARU, "post", "offered", 0),
        ("transjakarta", "transit", "offered", 0),
    ]
    assert (await alert_row(context, alert_id)).state == "routed"
    names = await event_names(context, alert_id)
    assert names == ["alert.received", "alert.routed", "assignment.offered", "assignment.offered"]
    async with context.sessions() as session:
        decision = await session.scalar(select(RoutingDecision))
        assert decision is not None
        assert decision.decision["nearest_post"] == KEBAYORAN_BARU
        assert decision.decision["jurisdiction_post"] == KEBAYORAN_BARU
        queued = (await session.scalars(select(Notification.kind))).all()
        assert sorted(queued) == ["offer", "offer"]  # konselor.kb and petugas.tj


async def test_nobody_on_duty_skips_straight_to_the_central_desk_and_112(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    alert_id = await press_at_blok_m(client, context)
    await drain(context)

    offered = await legs(context, alert_id)
    assert [(g.unit_code, g.leg_kind) for g in offered] == [("central", "central")]
    alert = await alert_row(context, alert_id)
    assert alert.transferred_at == context.clock.now()  # an empty central desk is not waited out
    names = await event_names(context, alert_id)
    assert "alert.transferred" in names


async def test_a_closed_post_is_skipped_with_its_reason(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    clock.advance(9 * 3600)  # 19:00 in Jakarta: posts close at 16:00
    await on_duty(context, "konselor.kb", KEBAYORAN_BARU)
    await on_duty(context, "pusat", "central")
    alert_id = await press_at_blok_m(client, context)
    await drain(context)

    assert [g.unit_code for g in await legs(context, alert_id)] == ["central"]
    async with context.sessions() as session:
        decision = await session.scalar(select(RoutingDecision))
        assert decision is not None
    reasons = {c["code"]: c["skip_reason"] for c in decision.decision["candidates"]}
    assert reasons[KEBAYORAN_BARU] == "closed"
    assert reasons[KEBAYORAN_LAMA] == "closed"
    assert decision.decision["fallback"] == "nobody_available"
    assert (await alert_row(context, alert_id)).transferred_at is None  # central is staffed


async def test_timeout_moves_on_at_once_to_the_next_post_then_central_then_112(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await on_duty(context, "konselor.kb", KEBAYORAN_BARU)
    await on_duty(context, "konselor.kl", KEBAYORAN_LAMA)
    await on_duty(context, "pusat", "central")
    await on_duty(context, "supervisor", "central", role="supervisor")
    context.settings.dispatch.max_post_attempts = 2
    try:
        alert_id = await press_at_blok_m(client, context)
        await drain(context)
        clock.advance(59)
        assert await drain(context) == 0  # not yet due
        clock.advance(1)  # exactly 60 s: the deadline
        await drain(context)
        steps = [(g.step, g.unit_code, g.status) for g in await legs(context, alert_id)]
        assert steps == [(0, KEBAYORAN_BARU, "expired"), (1, KEBAYORAN_LAMA, "offered")]

        clock.advance(60)
        await drain(context)
        steps = [(g.step, g.unit_code, g.status) for g in await legs(context, alert_id)]
        assert steps[-1] == (2, "central", "offered")  # two posts tried: the central desk

        clock.advance(120)  # the central desk's own timeout
        await drain(context)
    finally:
        context.settings.dispatch.max_post_attempts = 3
    alert = await alert_row(context, alert_id)
    assert alert.transferred_at == clock.now()
    assert alert.escalations == 2
    # (the supervisors' attention items the transfer raises follow it: app/sla/attention.py)
    names = [n for n in await event_names(context, alert_id) if not n.startswith("attention.")]
    assert names.count("alert.escalated") == 2
    assert names.count("assignment.expired") == 3
    assert names[-1] == "alert.transferred"
    async with context.sessions() as session:
        kinds = (await session.scalars(select(Notification.kind))).all()
    assert kinds.count("escalation") == 2 and kinds.count("transfer") == 1


async def test_decline_escalates_immediately(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    from tests.dispatch.staffing import token_on_duty

    token = await token_on_duty(client, context, "konselor.kb", "counselor", KEBAYORAN_BARU)
    await on_duty(context, "konselor.mp", MAMPANG)
    alert_id = await press_at_blok_m(client, context)
    await drain(context)
    offer = (await legs(context, alert_id))[0]
    response = await client.post(
        f"/v1/assignments/{offer.id}/decline", headers=auth(token), json={"reason": "busy"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "declined"
    steps = [(g.step, g.unit_code, g.status) for g in await legs(context, alert_id)]
    assert steps == [(0, KEBAYORAN_BARU, "declined"), (1, MAMPANG, "offered")]


async def test_a_second_decision_for_the_same_step_is_impossible(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    alert_id = await press_at_blok_m(client, context)
    await drain(context)
    async with context.sessions() as session:
        session.add(
            RoutingDecision(
                id=uuid.uuid4(),
                alert_id=uuid.UUID(alert_id),
                step=0,
                trigger="received",
                policy="nearest",
                decision={},
                created_at=context.clock.now(),
            )
        )
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_drills_reach_only_units_that_take_part(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await on_duty(context, "konselor.kb", KEBAYORAN_BARU)
    await on_duty(context, "konselor.kl", KEBAYORAN_LAMA)
    async with context.sessions() as session:
        unit = await session.scalar(select(Unit).where(Unit.code == KEBAYORAN_BARU))
        assert unit is not None
        edited_at = unit.updated_at
        unit.takes_drills = False
        unit.updated_at = context.clock.now() + timedelta(seconds=1)  # as an operator's edit
        await session.commit()
    try:
        alert_id = await press_at_blok_m(client, context, is_drill=True)
        await drain(context)
    finally:
        async with context.sessions() as session:
            unit = await session.scalar(select(Unit).where(Unit.code == KEBAYORAN_BARU))
            assert unit is not None
            unit.takes_drills = True
            # Back as it was: a stamp left in the future would hide a later test's edit from the
            # routing snapshot, which rebuilds when the newest edit time changes.
            unit.updated_at = edited_at
            await session.commit()
    assert next(g.unit_code for g in await legs(context, alert_id)) == KEBAYORAN_LAMA
    async with context.sessions() as session:
        texts = (await session.scalars(select(Notification.text))).all()
    assert texts and all(t.startswith("[LATIHAN/DRILL]") for t in texts)


async def test_under_jurisdiction_and_nearest_blok_m_reaches_kebayoran_baru_and_transjakarta(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await all_posts_staffed(context)
    await on_duty(context, "petugas.tj", "transjakarta", role="transit_staff")
    for policy in ("jurisdiction", "nearest"):
        context.settings.dispatch.policy = policy  # type: ignore[assignment]
        try:
            alert_id = await press_at_blok_m(client, context)
            await drain(context)
        finally:
            context.settings.dispatch.policy = "nearest"
        offered = {(g.unit_code, g.leg_kind, g.reason) for g in await legs(context, alert_id)}
        expected_reason = "jurisdiction" if policy == "jurisdiction" else "nearest"
        assert offered == {
            (KEBAYORAN_BARU, "post", expected_reason),
            ("transjakarta", "transit", "control_desk"),
        }


async def test_a_victim_who_moves_before_acknowledgement_is_re_offered(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await on_duty(context, "konselor.kb", KEBAYORAN_BARU)
    await on_duty(context, "konselor.gambir", GAMBIR)
    _, credential = await register(client)
    created = await press(client, credential, press_body(context))
    alert_id = created.json()["id"]
    await drain(context)
    clock.advance(20)
    moved = await client.post(
        f"/v1/alerts/{alert_id}/locations",
        headers=auth(credential),
        json={
            "points": [
                {
                    "lat": -6.1754,
                    "lon": 106.8272,
                    "accuracy_m": 10,
                    "fix_at": clock.now().isoformat(),
                }
            ]
        },
    )  # Monas, in Gambir
    assert moved.status_code == 200, moved.text
    await drain(context)
    steps = [(g.step, g.unit_code, g.status) for g in await legs(context, alert_id)]
    assert steps == [(0, KEBAYORAN_BARU, "withdrawn"), (1, GAMBIR, "offered")]
    names = await event_names(context, alert_id)
    assert "assignment.withdrawn" in names

"""Retention purges personal data of alerts that never became a case, never a duress cancel."""

from __future__ import annotations

import uuid

import httpx
import pytest

from app.clock import FrozenClock
from app.context import AppContext
from app.models import Alert, AlertLocation
from app.policy.retention import run_retention
from tests.helpers import auth, press, press_body, register, sign_in, staff_token

DAYS = 30


async def _alert(context: AppContext, alert_id: str) -> Alert:
    async with context.sessions() as session:
        alert = await session.get(Alert, uuid.UUID(alert_id))
        assert alert is not None
        return alert


async def _pressed(
    client: httpx.AsyncClient, context: AppContext, **fields: object
) -> tuple[str, str]:
    _, credential = await register(client)
    body = press_body(context, contact={"name": "CANARY-NAME"}, **fields)
    response = await press(client, credential, body)
    assert response.status_code == 201, response.text
    return credential, str(response.json()["id"])


@pytest.mark.parametrize(("pin", "purged"), [("1111", True), ("9999", False)])
async def test_a_cancelled_alert_is_purged_after_the_period_but_never_a_duress_cancel(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock, pin: str, purged: bool
) -> None:
    _, credential = await register(client)
    pins = {"cancel_pin": "1111", "duress_pin": "9999"}
    assert (await client.put("/v1/devices/me/pins", json=pins, headers=auth(credential))).is_success
    response = await press(client, credential, press_body(context, contact={"name": "CANARY"}))
    alert_id = response.json()["id"]
    cancel = await client.post(
        f"/v1/alerts/{alert_id}/cancel", json={"pin": pin}, headers=auth(credential)
    )
    assert cancel.status_code == 200, cancel.text
    clock.advance(DAYS * 86400 - 60)
    await run_retention(context)
    assert (await _alert(context, alert_id)).purged_at is None  # not yet
    clock.advance(120)
    await run_retention(context)
    alert = await _alert(context, alert_id)
    assert (alert.purged_at is not None) is purged
    assert (alert.private_enc is None) is purged
    async with context.sessions() as session:
        from sqlalchemy import func, select

        points = await session.scalar(
            select(func.count()).where(AlertLocation.alert_id == alert.id)
        )
    assert (points == 0) is purged


async def test_legal_hold_keeps_a_drill_whole(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    supervisor = await staff_token(client, context, "spv", "supervisor", "central")
    _, held = await _pressed(client, context, is_drill=True)
    _, other = await _pressed(client, context, is_drill=True)
    hold = {"hold": True, "reason": "police asked to keep it"}
    answer = await client.post(f"/v1/alerts/{held}/legal-hold", json=hold, headers=auth(supervisor))
    assert answer.status_code == 204, answer.text
    for alert_id in (held, other):
        resolve = await client.post(
            f"/v1/alerts/{alert_id}/resolve",
            json={"disposition": "false_alarm"},
            headers=auth(supervisor),
        )
        assert resolve.status_code == 200, resolve.text
    clock.advance((DAYS + 1) * 86400)
    await run_retention(context)
    assert (await _alert(context, held)).purged_at is None
    supervisor = (await sign_in(client, "spv"))["access_token"]  # a month later
    purged = await client.get(f"/v1/alerts/{other}", headers=auth(supervisor))
    assert purged.status_code == 200, purged.text
    assert purged.json()["purged_at"] is not None and purged.json()["contact"] is None

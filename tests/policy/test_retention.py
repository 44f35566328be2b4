"""Retention purges personal data of alerts that never became a case, never a duress cancel."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.clock import FrozenClock
from app.context import AppContext
from app.models import Alert, AlertLocation, RoutingDecision
from app.policy.retention import run_retention, without_location
from tests.dispatch.staffing import drain, on_duty
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


async def _explanations(context: AppContext, alert_id: str) -> list[dict[str, Any]]:
    async with context.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(RoutingDecision.decision)
                    .where(RoutingDecision.alert_id == uuid.UUID(alert_id))
                    .order_by(RoutingDecision.step)
                )
            ).all()
        )


async def test_the_purge_strips_what_in_the_routing_locates_the_victim_and_keeps_the_rest(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await on_duty(context, "konselor.kb", "3171060")
    await on_duty(context, "konselor.kl", "3171050")
    credential, alert_id = await _pressed(client, context)
    await drain(context)
    pins = {"cancel_pin": "1111", "duress_pin": "9999"}
    assert (await client.put("/v1/devices/me/pins", json=pins, headers=auth(credential))).is_success
    cancel = await client.post(
        f"/v1/alerts/{alert_id}/cancel", json={"pin": "1111"}, headers=auth(credential)
    )
    assert cancel.status_code == 200, cancel.text
    await drain(context)
    before = await _explanations(context, alert_id)
    first = before[0]
    assert any(c["distance_m"] is not None for c in first["candidates"])  # it did locate her
    assert first["nearest_post"] is not None

    clock.advance((DAYS + 1) * 86400)
    await run_retention(context)
    after = await _explanations(context, alert_id)
    assert len(after) == len(before)
    for kept, purged in zip(before, after, strict=True):
        assert all(
            c["distance_m"] is None and c["eta_s"] is None for c in purged.get("candidates", [])
        )
        # What reports and the SLA clocks read stays: units, kinds, reasons, fallback, policy.
        assert [(g["unit_code"], g["kind"], g["reason"]) for g in purged.get("legs", [])] == [
            (g["unit_code"], g["kind"], g["reason"]) for g in kept.get("legs", [])
        ]
        assert all(g["eta_s"] is None for g in purged.get("legs", []))
        assert purged.get("fallback") == kept.get("fallback")
        assert purged.get("policy") == kept.get("policy")
        assert purged.get("nearest_post") is None
        candidates = purged.get("candidates", [])
        assert [c["code"] for c in candidates] == sorted(c["code"] for c in candidates)
        assert sorted((c["code"], c["skip_reason"]) for c in candidates) == sorted(
            (c["code"], c["skip_reason"]) for c in kept.get("candidates", [])
        )


def test_without_location_empties_distances_etas_and_the_station_everywhere() -> None:
    explanation = {
        "policy": "nearest",
        "legs": [{"unit_code": "B", "kind": "post", "reason": "nearest", "eta_s": 300}],
        "candidates": [
            {"code": "B", "distance_m": 900, "eta_s": 300, "available": True, "skip_reason": None},
            {
                "code": "A",
                "distance_m": 2500,
                "eta_s": 800,
                "available": False,
                "skip_reason": "closed",
            },
        ],
        "nearest_post": "B",
        "jurisdiction_post": "B",
        "transit": {
            "partner_code": "krl",
            "station_uid": "krl-sudirman",
            "source": "context",
            "unit_code": "krl-desk",
            "considered": [
                {
                    "code": "krl-desk",
                    "distance_m": 40,
                    "eta_s": 30,
                    "available": True,
                    "skip_reason": None,
                }
            ],
        },
        "fallback": None,
        "uncertain": False,
        "availability": {"B": {"at_post": 1}},
    }
    assert without_location(explanation) == {
        "policy": "nearest",
        "legs": [{"unit_code": "B", "kind": "post", "reason": "nearest", "eta_s": None}],
        "candidates": [
            {
                "code": "A",
                "distance_m": None,
                "eta_s": None,
                "available": False,
                "skip_reason": "closed",
            },
            {
                "code": "B",
                "distance_m": None,
                "eta_s": None,
                "available": True,
                "skip_reason": None,
            },
        ],
        "nearest_post": None,
        "jurisdiction_post": "B",
        "transit": {
            "partner_code": "krl",
            "station_uid": None,
            "source": "context",
            "unit_code": "krl-desk",
            "considered": [
                {
                    "code": "krl-desk",
                    "distance_m": None,
                    "eta_s": None,
                    "available": True,
                    "skip_reason": None,
                }
            ],
        },
        "fallback": None,
        "uncertain": False,
        "availability": {"B": {"at_post": 1}},
    }

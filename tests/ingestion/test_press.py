"""The intake contract of POST /v1/alerts, case by case."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from app.context import AppContext
from app.models import Alert, AlertLocation, IdempotencyRecord, OutboxEvent
from tests.helpers import BLOK_M, auth, press, press_body, register


async def count(context: AppContext, model: type) -> int:
    async with context.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_first_press_is_committed_with_its_location_and_outbox_event(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    response = await press(client, credential, press_body(context), key="k-1")

    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/v1/alerts/{body['id']}"
    assert body["status"] == "received"
    assert body["flags"] == []
    assert body["case_code"].startswith("SGP-")
    async with context.sessions() as session:
        alert = await session.get(Alert, uuid.UUID(body["id"]))
        assert alert is not None
        assert alert.area_code == "3171060"  # Kebayoran Baru
        assert alert.area_method == "inside"
        assert alert.received_at == context.clock.now()
        assert alert.last_lat == BLOK_M["lat"]
        assert any(
            c["partner_code"] == "transjakarta" and c["at_station"]
            for c in alert.station_candidates
        )
        events = (await session.scalars(select(OutboxEvent))).all()
        assert [e.event_type for e in events] == ["alert.received"]
        assert events[0].payload["alert_id"] == body["id"]
    assert await count(context, AlertLocation) == 1


async def test_retry_with_same_key_returns_original_response(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    body = press_body(context)
    first = await press(client, credential, body, key="retry-me")
    context.clock.advance(5)  # type: ignore[attr-defined]
    again = await press(client, credential, body, key="retry-me")

    assert again.status_code == first.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await count(context, Alert) == 1
    assert await count(context, OutboxEvent) == 1


async def test_same_key_with_another_body_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    await press(client, credential, press_body(context), key="k")
    response = await press(client, credential, press_body(context, is_drill=True), key="k")

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/idempotency-key-reused"
    assert response.json()["retryable"] is False
    assert await count(context, Alert) == 1


async def test_key_order_and_spacing_do_not_make_a_different_body(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    body = press_body(context)
    await press(client, credential, body, key="k")
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    response = await client.post(
        "/v1/alerts", content=reordered, headers={**auth(credential), "Idempotency-Key": "k"}
    )
    assert response.status_code == 201
    assert response.headers["idempotent-replayed"] == "true"


async def test_press_without_key_is_recorded_and_a_second_one_joins(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    first = await press(client, credential, press_body(context), key="")
    second = await press(client, credential, press_body(context), key="")

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["location"] == first.headers["location"]
    async with context.sessions() as session:
        alert = (await session.scalars(select(Alert))).one()
        assert alert.press_count == 2
        types = (
            await session.scalars(select(OutboxEvent.event_type).order_by(OutboxEvent.id))
        ).all()
        assert types == ["alert.received", "alert.pressed_again"]


async def test_another_devices_key_never_returns_its_response(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, first_device = await register(client)
    _, second_device = await register(client)
    a = await press(client, first_device, press_body(context), key="shared-key")
    b = await press(client, second_device, press_body(context), key="shared-key")

    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers
    assert await count(context, Alert) == 2


async def test_a_real_press_never_joins_a_drill(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    drill = await press(client, credential, press_body(context, is_drill=True))
    real = await press(client, credential, press_body(context))
    drill_again = await press(client, credential, press_body(context, is_drill=True))

    assert drill.status_code == 201 and real.status_code == 201
    assert real.json()["id"] != drill.json()["id"]
    assert real.json()["is_drill"] is False
    assert drill_again.status_code == 200 and drill_again.json()["id"] == drill.json()["id"]


@pytest.mark.parametrize(
    ("location", "flag"),
    [
        (None, "location_missing"),
        ({"lat": 999, "lon": 106.8, "accuracy_m": 10}, "location_invalid"),
        ({"lat": 0, "lon": 0, "accuracy_m": 10}, "location_invalid"),
        ({"lat": "south", "lon": 106.8}, "location_invalid"),
        (
            {"lat": -6.24, "lon": 106.80, "accuracy_m": 10, "fix_at": "2026-11-23T01:00:00Z"},
            "location_stale",
        ),
        ({"lat": -6.24, "lon": 106.80, "accuracy_m": -3}, "accuracy_invalid"),
    ],
)
async def test_unusable_location_is_recorded_and_flagged(
    client: httpx.AsyncClient, context: AppContext, location: object, flag: str
) -> None:
    _, credential = await register(client)
    response = await press(client, credential, press_body(context, location=location))

    assert response.status_code == 201
    assert flag in response.json()["flags"]
    async with context.sessions() as session:
        alert = (await session.scalars(select(Alert))).one()
        assert flag in alert.flags


async def test_nan_coordinates_are_flagged_not_refused(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    raw = b'{"location": {"lat": NaN, "lon": Infinity, "accuracy_m": 5}}'
    response = await client.post("/v1/alerts", content=raw, headers=auth(credential))
    assert response.status_code == 201
    assert "location_invalid" in response.json()["flags"]


async def test_unknown_fields_skew_and_zoneless_time_are_flagged(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    body = press_body(context, pressed_at="2026-11-23T10:00:00", battery_percent=4)
    response = await press(client, credential, body)
    assert response.status_code == 201
    assert {"unknown_fields", "pressed_at_without_timezone"} <= set(response.json()["flags"])

    _, other = await register(client)
    skewed = await press(client, other, press_body(context, pressed_at="2026-11-21T03:00:00Z"))
    assert skewed.status_code == 201
    assert "clock_skew" in skewed.json()["flags"]


async def test_personal_content_is_encrypted_at_rest(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    body = press_body(
        context, contact={"name": "CANARY-NAMA-7f3a", "phone": "0812"}, message="CANARY-TEXT"
    )
    assert (await press(client, credential, body)).status_code == 201
    async with context.sessions() as session:
        alert = (await session.scalars(select(Alert))).one()
        assert alert.private_enc is not None
        assert b"CANARY" not in alert.private_enc
        assert b"CANARY" not in json.dumps(alert.flags).encode()


async def test_json_that_is_not_an_object_is_still_recorded(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    response = await client.post("/v1/alerts", content=b"[1, 2]", headers=auth(credential))
    assert response.status_code == 201
    assert "body_not_object" in response.json()["flags"]


async def test_without_valid_credential_nothing_is_recorded(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    for headers in ({}, auth("sgd_not-a-real-credential"), {"Authorization": "Basic abc"}):
        response = await client.post("/v1/alerts", json=press_body(context), headers=headers)
        assert response.status_code == 401
        assert response.json()["type"] == "/problems/unauthenticated"
        assert "www-authenticate" in response.headers
    assert await count(context, Alert) == 0


async def test_oversized_press_is_refused(client: httpx.AsyncClient, context: AppContext) -> None:
    _, credential = await register(client)
    body = press_body(context, message="x" * 70_000)
    response = await press(client, credential, body)
    assert response.status_code == 413
    assert response.json()["type"] == "/problems/body-too-large"

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(70):
            yield b" " * 1024

    streamed = await client.post("/v1/alerts", content=chunks(), headers=auth(credential))
    assert streamed.status_code == 413
    assert await count(context, Alert) == 0


async def test_fifty_concurrent_retries_make_one_alert_and_identical_answers(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    body = press_body(context)
    responses = await asyncio.gather(
        *(press(client, credential, body, key="burst") for _ in range(50))
    )

    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in responses) == 1
    assert await count(context, Alert) == 1
    assert await count(context, IdempotencyRecord) == 1
    assert await count(context, OutboxEvent) == 1


async def test_five_hundred_concurrent_alerts_make_five_hundred_rows_and_events(
    client: httpx.AsyncClient, context: AppContext, burner: None
) -> None:
    credentials = [c for _, c in await asyncio.gather(*(register(client) for _ in range(500)))]
    responses = await asyncio.gather(*(press(client, c, press_body(context)) for c in credentials))

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 500
    assert await count(context, Alert) == 500
    async with context.sessions() as session:
        received = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.event_type == "alert.received")
        )
    assert received == 500

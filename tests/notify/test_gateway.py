"""The HTTP gateway provider (SMS, WhatsApp, voice behind one endpoint), against a fake gateway
(httpx.MockTransport): what it posts, retries with the same id, and falling back to the log."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.clock import FrozenClock
from app.config import DispatchSettings
from app.context import AppContext
from app.models import Notification, StaffUser
from app.notify import build_providers, deliver_due
from tests.dispatch.staffing import drain, on_duty
from tests.helpers import press, press_body, register

KB = "3171060"


class FakeGateway:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        body["authorization"] = request.headers.get("authorization")
        self.received.append(body)
        if self.failures:
            self.failures -= 1
            return httpx.Response(503)
        return httpx.Response(202, json={"queued": True})


def gateway_settings(*names: str) -> DispatchSettings:
    return DispatchSettings(
        notify_providers=list(names),
        notify_http_url="https://gateway.example/send",
        notify_http_token="secret-token",  # type: ignore[arg-type]
    )


async def offer_to_kb(client: httpx.AsyncClient, context: AppContext, phone: str | None) -> None:
    staff_id = await on_duty(context, "konselor.kb", KB)
    async with context.sessions() as session:
        await session.execute(update(StaffUser).where(StaffUser.id == staff_id).values(phone=phone))
        await session.commit()
    _, credential = await register(client)
    await press(client, credential, press_body(context, victim_is_child=True))
    await drain(context)


async def deliver(context: AppContext, settings: DispatchSettings, gateway: FakeGateway) -> int:
    providers = build_providers(settings, transport=httpx.MockTransport(gateway))
    return await deliver_due(context, providers=providers, settings=settings)


async def test_the_gateway_gets_the_phone_and_a_text_without_identity_and_retries_same_id(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await offer_to_kb(client, context, phone="+62 812-0000-0001")
    gateway, settings = FakeGateway(failures=1), gateway_settings("http")
    assert await deliver(context, settings, gateway) == 0  # 503: kept, retried later
    clock.advance(60)
    assert await deliver(context, settings, gateway) == 1
    first, retry = gateway.received
    assert first["id"] == retry["id"]  # the gateway can drop a repeat
    assert retry["to"] == "+62 812-0000-0001"
    assert retry["authorization"] == "Bearer secret-token"
    assert retry["kind"] == "offer" and "SGP-" in retry["text"]
    assert "child" not in retry["text"].lower()
    async with context.sessions() as session:
        row = await session.scalar(select(Notification))
        assert row is not None
        assert (row.status, row.channel, row.attempts) == ("sent", "http", 2)


async def test_without_a_phone_the_next_provider_takes_it(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await offer_to_kb(client, context, phone=None)
    gateway = FakeGateway()
    assert await deliver(context, gateway_settings("http", "log"), gateway) == 1
    assert gateway.received == []
    async with context.sessions() as session:
        row = await session.scalar(select(Notification))
        assert row is not None
        assert row.channel == "log"


def test_provider_settings_are_checked_at_start() -> None:
    with pytest.raises(ValueError, match="notify_http_url"):
        build_providers(DispatchSettings(notify_providers=["http"]))
    with pytest.raises(ValueError, match="unknown"):
        build_providers(DispatchSettings(notify_providers=["pigeon"]))

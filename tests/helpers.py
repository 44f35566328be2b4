"""Small steps shared by API tests: register a device, press, make staff and sign them in."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from app.clock import Clock
from app.context import AppContext
from app.events import emit
from app.identity.integrators import create_integrator
from app.identity.staff import create_user
from app.models import Alert
from app.schemas.identity import UserCreate

# TJ Blok M halte platform area (Transjakarta GTFS), in Kebayoran Baru.
BLOK_M = {"lat": -6.243556, "lon": 106.801278}
PASSWORD = "correct horse battery staple"
OPS_TOKEN = "test-operator-token-" + "o" * 24
"""``SIGAP_OPS__METRICS_TOKEN`` in the suite's settings: ``/metrics`` and ``/readyz`` details."""
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}


def auth(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def register(client: httpx.AsyncClient) -> tuple[str, str]:
    response = await client.post("/v1/devices", json={"platform": "android", "app_version": "1.0"})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["device_id"], body["credential"]


def press_body(at: AppContext | Clock, **fields: Any) -> dict[str, Any]:
    now = (at.clock if isinstance(at, AppContext) else at).now().isoformat()
    body: dict[str, Any] = {
        "pressed_at": now,
        "location": {**BLOK_M, "accuracy_m": 15, "fix_at": now, "source": "gps"},
        "reporter": "victim",
        "silent": True,
    }
    body.update(fields)
    return body


async def press(
    client: httpx.AsyncClient,
    credential: str,
    body: Any,
    *,
    key: str | None = None,
) -> httpx.Response:
    headers = auth(credential)
    if key is None:
        key = uuid.uuid4().hex
    if key:
        headers["Idempotency-Key"] = key
    return await client.post("/v1/alerts", json=body, headers=headers)


async def make_staff(
    context: AppContext, username: str, role: str, unit_code: str | None = None
) -> None:
    async with context.sessions() as session:
        await create_user(
            session,
            data=UserCreate(username=username, password=PASSWORD, role=role, unit_code=unit_code),  # type: ignore[arg-type]
            hasher=context.hasher,
            now=context.clock.now(),
        )
        await session.commit()


async def sign_in(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> dict[str, Any]:
    response = await client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def staff_token(
    client: httpx.AsyncClient, context: AppContext, username: str, role: str, unit: str | None
) -> str:
    await make_staff(context, username, role, unit)
    return str((await sign_in(client, username))["access_token"])


async def integrator_token(
    client: httpx.AsyncClient,
    context: AppContext,
    scopes: list[str],
    *,
    data_scope: str = "none",
    unit_code: str | None = None,
) -> str:
    async with context.sessions() as session:
        credential = await create_integrator(
            session,
            name=f"client {data_scope} {unit_code or ''}".strip(),
            scopes=scopes,
            now=context.clock.now(),
            data_scope=data_scope,
            unit_code=unit_code,
        )
        await session.commit()
    response = await client.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(credential.client_id, credential.client_secret),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def transfer_to_112(context: AppContext, alert_id: uuid.UUID | str) -> None:
    """The ladder's hand-off to Jakarta Siaga 112, written as ``app.dispatch.ladder.transfer``
    writes it (the ladder itself only gets there when the central desk stays silent)."""
    async with context.sessions() as session:
        alert = await session.get(Alert, uuid.UUID(str(alert_id)))
        assert alert is not None
        alert.transferred_at = context.clock.now()
        emit(
            session,
            "alert.transferred",
            at=context.clock.now(),
            alert_id=alert.id,
            data={"to": "112", "reason": "central desk unanswered", "case_code": alert.case_code},
        )
        await session.commit()

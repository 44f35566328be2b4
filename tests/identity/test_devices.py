"""Device registration, credential rotation and revocation."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from app.clock import FrozenClock
from app.context import AppContext
from app.models import Device
from app.security.credentials import digest
from tests.conftest import make_settings
from tests.helpers import auth, press, press_body, register


async def test_registration_returns_a_strong_credential_stored_only_as_its_digest(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    device_id, credential = await register(client)
    assert credential.startswith("sgd_") and len(credential) >= 4 + 43  # 32 random bytes
    async with context.sessions() as session:
        device = (await session.scalars(select(Device))).one()
        assert str(device.id) == device_id
        assert device.credential_hash == digest(credential)
        assert credential not in repr(device.__dict__)


async def test_registration_refuses_unknown_fields_and_wrong_media_type(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    unknown = await client.post("/v1/devices", json={"platform": "android", "imei": "123"})
    assert unknown.status_code == 422 and unknown.json()["type"] == "/problems/validation-error"
    assert unknown.json()["errors"][0]["loc"] == ["body", "imei"]
    form = await client.post("/v1/devices", data={"platform": "android"})
    assert form.status_code == 415
    async with context.sessions() as session:
        assert (await session.scalars(select(Device))).all() == []


async def test_registration_past_the_network_limit_is_never_refused_but_unvetted(
    context: AppContext,
) -> None:
    from dataclasses import replace

    from app.main import create_app

    limited = replace(
        context,
        settings=make_settings(
            context.settings.database_url, intake={"registrations_per_network_per_hour": 3}
        ),
    )
    app = create_app(context=limited, run_loops=False)

    async def attempt(host: str) -> bool:
        """Whether the device registered from ``host`` is unvetted (the answer is alike)."""
        transport = httpx.ASGITransport(app=app, client=(host, 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            answer = await http.post("/v1/devices", json={})
        assert answer.status_code == 201, answer.text
        assert set(answer.json()) == {"device_id", "credential", "created_at"}
        async with context.sessions() as session:
            device = await session.get(Device, uuid.UUID(answer.json()["device_id"]))
            assert device is not None
            return device.unvetted

    assert [await attempt("198.51.100.9") for _ in range(4)] == [False, False, False, True]
    assert await attempt("198.51.100.10") is False  # another address is not affected
    assert await attempt("2001:db8:1:2::1") is False
    assert await attempt("2001:db8:1:2::ffff") is False
    assert await attempt("2001:db8:1:2::abcd") is False
    assert await attempt("2001:db8:1:2:aaaa::1") is True  # same /64


async def test_rotation_keeps_the_old_credential_briefly_and_revocation_ends_it(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    _, old = await register(client)
    rotated = await client.post("/v1/devices/me/credential", headers=auth(old))
    assert rotated.status_code == 200
    new = rotated.json()["credential"]
    assert new != old
    assert (await client.get("/v1/devices/me", headers=auth(old))).status_code == 200
    assert (await client.get("/v1/devices/me", headers=auth(new))).status_code == 200
    clock.advance(11 * 60)
    assert (await client.get("/v1/devices/me", headers=auth(old))).status_code == 401
    assert (await press(client, new, press_body(context))).status_code == 201

    assert (await client.delete("/v1/devices/me", headers=auth(new))).status_code == 204
    assert (await press(client, new, press_body(context))).status_code == 401

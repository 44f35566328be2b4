"""A change of access closes the streams it affects by a pushed announcement (``access.changed``
through the outbox and the broker, to every process's hub), not by the revalidation tick: the
ticks are set far beyond the tests' ceilings, so only the push can close the sockets in time."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from app.context import AppContext
from app.events import ACCESS_CHANGED
from app.models import OutboxEvent, StaffUser
from tests.helpers import auth, register, staff_token
from tests.realtime.live import live_server, settled, stream

CEILING_S = 10.0
"""Generous, for a busy machine; the tick it must beat is an hour away."""


@pytest.fixture(autouse=True)
def no_tick(context: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context.settings.realtime, "revalidate_s", 3600.0)
    monkeypatch.setattr(context.settings.realtime, "device_revalidate_s", 3600.0)


async def announced(context: AppContext, subject: str) -> bool:
    async with context.sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.event_type == ACCESS_CHANGED)
        )
        return any(payload.get("subject") == subject for payload in rows.all())


async def user_id(context: AppContext, username: str) -> str:
    async with context.sessions() as session:
        found = await session.scalar(select(StaffUser.id).where(StaffUser.username == username))
    assert found is not None
    return str(found)


@pytest.mark.parametrize(
    "change", [{"disabled": True}, {"role": "transit_staff", "unit_code": "transjakarta"}]
)
async def test_a_disabled_or_demoted_staff_members_stream_is_closed_by_the_push(
    client: httpx.AsyncClient, context: AppContext, change: dict[str, object]
) -> None:
    admin = await staff_token(client, context, "admin", "admin", "central")
    token = await staff_token(client, context, "konselor", "counselor", "3171060")
    colleague = await staff_token(client, context, "konselor.b", "counselor", "3171060")
    staff_id = await user_id(context, "konselor")
    async with (
        live_server(context) as live,
        stream(live.base, token) as ws,
        stream(live.base, colleague) as other,
    ):
        changed = await client.patch(f"/v1/users/{staff_id}", headers=auth(admin), json=change)
        assert changed.status_code == 200, changed.text
        assert await announced(context, f"staff:{staff_id}")  # the mechanism
        code, _ = await ws.closed_with(wait_s=CEILING_S)
        assert code == 4003
        # Nobody else's stream is touched.
        await other.send({"type": "ping"})
        assert (await other.receive())["type"] == "pong"


async def test_a_change_that_keeps_access_announces_nothing(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    admin = await staff_token(client, context, "admin", "admin", "central")
    await staff_token(client, context, "konselor", "counselor", "3171060")
    staff_id = await user_id(context, "konselor")
    renamed = await client.patch(
        f"/v1/users/{staff_id}", headers=auth(admin), json={"display_name": "Sari"}
    )
    assert renamed.status_code == 200, renamed.text
    assert not await announced(context, f"staff:{staff_id}")


async def test_a_revoked_device_stream_is_closed_by_the_push(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    device_id, credential = await register(client)
    async with live_server(context) as live, stream(live.base, credential) as ws:
        revoked = await client.delete("/v1/devices/me", headers=auth(credential))
        assert revoked.status_code == 204
        assert await announced(context, f"device:{device_id}")
        code, _ = await ws.closed_with(wait_s=CEILING_S)
    assert code == 4003


async def test_announcements_are_never_sent_on_a_stream(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    admin = await staff_token(client, context, "admin", "admin", "central")
    supervisor = await staff_token(client, context, "supervisor", "supervisor", "central")
    await staff_token(client, context, "konselor", "counselor", "3171060")
    staff_id = await user_id(context, "konselor")
    async with live_server(context) as live, stream(live.base, supervisor) as ws:
        await client.patch(f"/v1/users/{staff_id}", headers=auth(admin), json={"disabled": True})
        assert await announced(context, f"staff:{staff_id}")
        await settled(context, live)  # the hub read past the announcement
        assert [m for m in await ws.sent() if m["type"] == "event"] == []

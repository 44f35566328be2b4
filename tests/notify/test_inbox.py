"""The console's inbox: every message sent to a person is also listed for them, newest first,
with a cursor, and they mark it read; nobody sees another's."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from app.context import AppContext
from app.models import StaffUser
from tests.helpers import auth, staff_token
from tests.notify.test_delivery import queue_for


async def user_id(context: AppContext, username: str) -> object:
    async with context.sessions() as session:
        return await session.scalar(select(StaffUser.id).where(StaffUser.username == username))


async def test_messages_to_a_supervisor_are_in_their_inbox_until_marked_read(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    supervisor = await staff_token(client, context, "pengawas", "supervisor", "central")
    other = await staff_token(client, context, "pengawas.dua", "supervisor", "central")
    me = await user_id(context, "pengawas")
    await queue_for(context, [me], "escalation", "AAA111")  # type: ignore[list-item]
    context.clock.advance(1)  # type: ignore[attr-defined]
    await queue_for(context, [me], "sla_breached", "BBB222")  # type: ignore[list-item]

    first = await client.get("/v1/me/inbox?limit=1", headers=auth(supervisor))
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["unread"] == 2
    assert [m["kind"] for m in page["items"]] == ["sla_breached"]  # newest first
    assert page["items"][0]["read_at"] is None
    assert page["items"][0]["delivery"] == "queued"  # listed whatever became of its delivery
    cursor = page["next_cursor"]
    second = await client.get(f"/v1/me/inbox?limit=1&cursor={cursor}", headers=auth(supervisor))
    assert [m["text"] for m in second.json()["items"]] == ["Sigap SGP-AAA111: escalation."]
    assert second.json()["next_cursor"] is None

    assert (await client.get("/v1/me/inbox", headers=auth(other))).json()["items"] == []
    theirs = [m["id"] for m in page["items"]]
    # Someone else's ids change nothing.
    done = await client.post("/v1/me/inbox/read", json={"ids": theirs}, headers=auth(other))
    assert done.status_code == 204
    assert (await client.get("/v1/me/inbox", headers=auth(supervisor))).json()["unread"] == 2

    done = await client.post("/v1/me/inbox/read", json={"ids": theirs}, headers=auth(supervisor))
    assert done.status_code == 204
    after = (await client.get("/v1/me/inbox", headers=auth(supervisor))).json()
    assert after["unread"] == 1
    assert [m["read_at"] is not None for m in after["items"]] == [True, False]
    unread = (await client.get("/v1/me/inbox?unread=true", headers=auth(supervisor))).json()
    assert [m["kind"] for m in unread["items"]] == ["escalation"]
    await client.post("/v1/me/inbox/read", json={}, headers=auth(supervisor))
    assert (await client.get("/v1/me/inbox", headers=auth(supervisor))).json()["unread"] == 0


async def test_an_unknown_field_in_a_read_mark_is_refused(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    supervisor = await staff_token(client, context, "pengawas", "supervisor", "central")
    response = await client.post(
        "/v1/me/inbox/read", json={"everything": True}, headers=auth(supervisor)
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"

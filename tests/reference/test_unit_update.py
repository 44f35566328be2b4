"""Editing a unit: only what is sent changes, and what cannot be empty cannot be cleared."""

from __future__ import annotations

import httpx

from app.clock import FrozenClock
from app.context import AppContext
from tests.helpers import auth, staff_token

KB = "3171060"


async def test_null_clears_only_what_may_be_empty(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    admin = auth(await staff_token(client, context, "admin.pusat", "admin", "central"))
    for name in ("name", "phones", "verified", "takes_drills", "active"):
        refused = await client.patch(f"/v1/units/{KB}", json={name: None}, headers=admin)
        assert refused.status_code == 422, (name, refused.text)
        assert refused.json()["errors"][0]["type"] == "not_clearable"
    cleared = await client.patch(f"/v1/units/{KB}", json={"address": None}, headers=admin)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["address"] is None
    assert cleared.json()["name"]  # untouched


async def test_routing_sees_an_edit_stamped_before_the_newest_one(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    """Two operators on hosts whose clocks differ: the second edit carries an earlier time than
    the first. Every process's routing data must still change with it."""
    admin = auth(await staff_token(client, context, "admin.pusat", "admin", "central"))
    clock.advance(60)
    renamed = await client.patch(f"/v1/units/{KB}", json={"name": "Pos KB"}, headers=admin)
    assert renamed.status_code == 200, renamed.text

    async def active(code: str) -> bool:
        async with context.sessions() as session:
            static = await context.dispatch_cache.get(session, "dki-jakarta")
        return next(u.active for u in static.units if u.code == code)

    assert await active("3171050")
    clock.advance(-30)  # the other host's clock is behind
    closed = await client.patch("/v1/units/3171050", json={"active": False}, headers=admin)
    assert closed.status_code == 200, closed.text
    assert not await active("3171050")

"""Editing a unit: only what is sent changes, and what cannot be empty cannot be cleared."""

from __future__ import annotations

import httpx

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

"""The last active admin cannot be disabled or demoted: nobody could administer the deployment."""

from __future__ import annotations

import httpx

from app.context import AppContext
from tests.helpers import auth, sign_in, staff_token


async def _me(client: httpx.AsyncClient, token: str) -> str:
    return str((await client.get("/v1/me", headers=auth(token))).json()["id"])


async def test_the_only_admin_cannot_disable_or_demote_itself(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    admin = await staff_token(client, context, "admin", "admin", "central")
    own = f"/v1/users/{await _me(client, admin)}"
    for change in ({"disabled": True}, {"role": "supervisor"}):
        refused = await client.patch(own, json=change, headers=auth(admin))
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"] == "/problems/last-admin"
    assert (await client.get("/v1/me", headers=auth(admin))).json()["role"] == "admin"
    assert (await sign_in(client, "admin"))["access_token"]  # still signs in


async def test_an_admin_may_step_down_once_another_is_active(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    first = await staff_token(client, context, "admin.a", "admin", "central")
    second = await staff_token(client, context, "admin.b", "admin", "central")
    first_id, second_id = await _me(client, first), await _me(client, second)
    stepped = await client.patch(
        f"/v1/users/{first_id}", json={"disabled": True}, headers=auth(second)
    )
    assert stepped.status_code == 200, stepped.text
    last = await client.patch(
        f"/v1/users/{second_id}", json={"disabled": True}, headers=auth(second)
    )
    assert last.status_code == 409 and last.json()["type"] == "/problems/last-admin"
    # Disabling someone else who is not an admin is unaffected.
    await staff_token(client, context, "konselor", "counselor", "3171060")
    users = (await client.get("/v1/users", headers=auth(second))).json()["items"]
    counselor = next(u["id"] for u in users if u["username"] == "konselor")
    gone = await client.patch(
        f"/v1/users/{counselor}", json={"disabled": True}, headers=auth(second)
    )
    assert gone.status_code == 200

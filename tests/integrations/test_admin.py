"""Integrator administration: create with a data scope, list, rotate, revoke."""

from __future__ import annotations

import httpx

from app.context import AppContext
from tests.helpers import auth, staff_token


async def token_for(client: httpx.AsyncClient, client_id: str, secret: str) -> httpx.Response:
    return await client.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )


async def test_rotate_and_revoke_end_access(client: httpx.AsyncClient, context: AppContext) -> None:
    admin = await staff_token(client, context, "admin1", "admin", None)
    created = await client.post(
        "/v1/integrators",
        json={
            "name": "Transjakarta control room",
            "scopes": ["partner_status:write", "alerts:read"],
            "data_scope": "transit",
            "unit_code": "transjakarta",
        },
        headers=auth(admin),
    )
    assert created.status_code == 201, created.text
    first = created.json()
    assert first["webhook_secret"].startswith("whsec_")
    assert (await token_for(client, first["client_id"], first["client_secret"])).status_code == 200

    rotated = await client.post(f"/v1/integrators/{first['client_id']}/secret", headers=auth(admin))
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert (await token_for(client, first["client_id"], first["client_secret"])).status_code == 401
    issued = await token_for(client, first["client_id"], new["client_secret"])
    assert issued.status_code == 200
    token = issued.json()["access_token"]
    assert (await client.get("/v1/me", headers=auth(token))).status_code == 200

    revoked = await client.delete(f"/v1/integrators/{first['client_id']}", headers=auth(admin))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert (await client.get("/v1/me", headers=auth(token))).status_code == 401
    assert (await token_for(client, first["client_id"], new["client_secret"])).status_code == 401

    listed = await client.get("/v1/integrators", headers=auth(admin))
    assert [i["data_scope"] for i in listed.json()["items"]] == ["transit"]


async def test_bad_data_scopes_and_private_networks_are_refused(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    admin = await staff_token(client, context, "admin2", "admin", None)
    for body in (
        {"name": "x-transit", "scopes": ["alerts:read"], "data_scope": "transit"},
        {"name": "x-police", "scopes": ["alerts:read"], "data_scope": "police", "unit_code": "mrt"},
        {"name": "x-none", "scopes": ["alerts:read"], "allowed_network": "10.0.0.0/8"},
        {
            "name": "x-112",
            "scopes": ["alerts:read"],
            "data_scope": "112",
            "allowed_network": "127.0.0.0/8",
        },
        {"name": "x-scope", "scopes": ["alerts:delete"]},
    ):
        response = await client.post("/v1/integrators", json=body, headers=auth(admin))
        assert response.status_code == 422, body
    supervisor = await staff_token(client, context, "super1", "supervisor", "central")
    assert (await client.get("/v1/integrators", headers=auth(supervisor))).status_code == 403

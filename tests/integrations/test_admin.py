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


async def test_tokens_die_at_once_when_the_secret_rotates_or_scopes_shrink(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """The clock does not move: a token issued before is refused on its next request, not when
    it expires ten minutes later."""
    from sqlalchemy import update

    from app.models import IntegratorClient

    admin = await staff_token(client, context, "admin3", "admin", None)
    created = await client.post(
        "/v1/integrators",
        json={"name": "Dinas Sosial", "scopes": ["alerts:read", "reference:read"]},
        headers=auth(admin),
    )
    first = created.json()
    before = (await token_for(client, first["client_id"], first["client_secret"])).json()
    assert (
        await client.get("/v1/regions", headers=auth(before["access_token"]))
    ).status_code == 200

    rotated = await client.post(f"/v1/integrators/{first['client_id']}/secret", headers=auth(admin))
    assert (await client.get("/v1/me", headers=auth(before["access_token"]))).status_code == 401
    after = (await token_for(client, first["client_id"], rotated.json()["client_secret"])).json()
    assert (await client.get("/v1/regions", headers=auth(after["access_token"]))).status_code == 200

    async with context.sessions() as session:  # an admin narrows the client's scopes
        await session.execute(
            update(IntegratorClient)
            .where(IntegratorClient.client_id == first["client_id"])
            .values(scopes=["alerts:read"])
        )
        await session.commit()
    assert (await client.get("/v1/regions", headers=auth(after["access_token"]))).status_code == 401
    assert (await client.get("/v1/me", headers=auth(after["access_token"]))).status_code == 401
    narrowed = (await token_for(client, first["client_id"], rotated.json()["client_secret"])).json()
    assert narrowed["scope"] == "alerts:read"
    assert (await client.get("/v1/me", headers=auth(narrowed["access_token"]))).status_code == 200
    assert (
        await client.get("/v1/regions", headers=auth(narrowed["access_token"]))
    ).status_code == 403


async def test_a_client_token_without_a_generation_is_refused(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """A token signed before this check existed (or forged without one) names no generation."""
    from tests.helpers import integrator_token

    token = await integrator_token(client, context, ["alerts:read"])
    claims = context.signer.verify(token, now=context.clock.now())
    assert claims is not None and claims.generation
    bare, _ = context.signer.issue(
        subject=claims.subject, now=context.clock.now(), scopes=claims.scopes
    )
    assert (await client.get("/v1/me", headers=auth(bare))).status_code == 401
    assert (await client.get("/v1/me", headers=auth(token))).status_code == 200

"""OAuth2 token endpoint, refresh rotation and reuse detection, sign-out, forged tokens."""

from __future__ import annotations

import httpx
import jwt

from app.clock import FrozenClock
from app.context import AppContext
from tests.helpers import PASSWORD, auth, integrator_token, make_staff, sign_in


async def test_password_grant_and_token_use(client: httpx.AsyncClient, context: AppContext) -> None:
    await make_staff(context, "sup.pusat", "supervisor", "central")
    tokens = await sign_in(client, "sup.pusat")
    assert tokens["token_type"] == "Bearer" and 540 <= tokens["expires_in"] <= 600
    me = await client.get("/v1/me", headers=auth(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["role"] == "supervisor" and me.json()["unit_code"] == "central"


async def test_token_errors_follow_rfc_6749(client: httpx.AsyncClient, context: AppContext) -> None:
    await make_staff(context, "konselor.a", "counselor", "3171060")
    cases = [
        (
            {"grant_type": "password", "username": "konselor.a", "password": "wrong"},
            400,
            "invalid_grant",
        ),
        (
            {"grant_type": "password", "username": "nobody", "password": PASSWORD},
            400,
            "invalid_grant",
        ),
        ({"grant_type": "password", "username": "konselor.a"}, 400, "invalid_request"),
        ({"grant_type": "implicit"}, 400, "unsupported_grant_type"),
        ({}, 400, "invalid_request"),
        (
            {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
            401,
            "invalid_client",
        ),
        ({"grant_type": "refresh_token", "refresh_token": "sgr_unknown"}, 400, "invalid_grant"),
    ]
    for form, status, error in cases:
        response = await client.post("/v1/auth/token", data=form)
        assert response.status_code == status, form
        assert response.json()["error"] == error
        assert response.headers["cache-control"] == "no-store"
    as_json = await client.post("/v1/auth/token", json={"grant_type": "password"})
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"


async def test_refresh_rotates_and_reuse_signs_the_session_out(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await make_staff(context, "konselor.b", "counselor", "3171060")
    first = await sign_in(client, "konselor.b")
    second = (
        await client.post(
            "/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        )
    ).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/v1/me", headers=auth(second["access_token"]))).status_code == 200

    replay = await client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # The whole family is gone: the newest refresh token and the access token too.
    after = await client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
    )
    assert after.status_code == 400
    assert (await client.get("/v1/me", headers=auth(second["access_token"]))).status_code == 401


async def test_logout_and_expiry(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await make_staff(context, "konselor.c", "counselor", "3171060")
    tokens = await sign_in(client, "konselor.c")
    clock.advance(601)
    assert (await client.get("/v1/me", headers=auth(tokens["access_token"]))).status_code == 401
    fresh = (
        await client.post(
            "/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
    ).json()
    assert (
        await client.post("/v1/auth/logout", headers=auth(fresh["access_token"]))
    ).status_code == 204
    assert (await client.get("/v1/me", headers=auth(fresh["access_token"]))).status_code == 401
    refused = await client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]},
    )
    assert refused.status_code == 400


async def test_forged_tokens_are_refused(client: httpx.AsyncClient, context: AppContext) -> None:
    await make_staff(context, "admin.x", "admin", "central")
    good = (await sign_in(client, "admin.x"))["access_token"]
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = [
        jwt.encode(claims, "another-key-" + "z" * 40, algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),
        jwt.encode(
            {**claims, "aud": "someone-else"},
            context.settings.effective_secret_key,
            algorithm="HS256",
        ),
        jwt.encode(
            {**claims, "iss": "evil"}, context.settings.effective_secret_key, algorithm="HS256"
        ),
        jwt.encode(
            {k: v for k, v in claims.items() if k != "exp"},
            context.settings.effective_secret_key,
            algorithm="HS256",
        ),
        good[:-4] + "AAAA",
    ]
    for token in forged:
        assert (await client.get("/v1/me", headers=auth(token))).status_code == 401


async def test_disabled_account_loses_access_at_once(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await make_staff(context, "root.admin", "admin", "central")
    await make_staff(context, "konselor.d", "counselor", "3171060")
    admin = (await sign_in(client, "root.admin"))["access_token"]
    victim_token = (await sign_in(client, "konselor.d"))["access_token"]
    users = (await client.get("/v1/users", headers=auth(admin))).json()["items"]
    target = next(u for u in users if u["username"] == "konselor.d")
    patched = await client.patch(
        f"/v1/users/{target['id']}", json={"disabled": True}, headers=auth(admin)
    )
    assert patched.status_code == 200 and patched.json()["disabled"] is True
    assert (await client.get("/v1/me", headers=auth(victim_token))).status_code == 401
    relogin = await client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "konselor.d", "password": PASSWORD},
    )
    assert relogin.status_code == 400


async def test_client_credentials_with_scopes(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await integrator_token(client, context, ["reference:read"])
    me = await client.get("/v1/me", headers=auth(token))
    assert me.json()["kind"] == "integrator" and me.json()["scopes"] == ["reference:read"]
    units = await client.get(
        "/v1/units", params={"kind": "post", "limit": 100}, headers=auth(token)
    )
    assert units.status_code == 200 and len(units.json()["items"]) >= 44


async def test_revoking_a_refresh_token_answers_a_typed_empty_object_and_ends_the_session(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await make_staff(context, "konselor.v", "counselor", "3171060")
    tokens = await sign_in(client, "konselor.v")
    for _ in range(2):  # an unknown (already revoked) token is not an error either
        answer = await client.post("/v1/auth/revoke", data={"token": tokens["refresh_token"]})
        assert answer.status_code == 200 and answer.json() == {}
        assert answer.headers["content-type"] == "application/json"
    refreshed = await client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert refreshed.status_code == 400

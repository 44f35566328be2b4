"""Console sessions: the refresh token only in an HttpOnly cookie, CSRF guards, rotation, sign-out,
and the console's pages served locally under a Content-Security-Policy."""

from __future__ import annotations

import httpx

from app.context import AppContext
from tests.helpers import PASSWORD, make_staff

CSRF = {"X-Sigap-Console": "1"}


async def _sign_in(client: httpx.AsyncClient, context: AppContext) -> httpx.Response:
    await make_staff(context, "konselor.menteng", "counselor", "3173020")
    return await client.post(
        "/v1/auth/session",
        json={"username": "konselor.menteng", "password": PASSWORD},
        headers=CSRF,
    )


async def test_sign_in_sets_an_httponly_strict_cookie_and_returns_only_the_access_token(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    response = await _sign_in(client, context)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("sigap_refresh=sgr_") or cookie.startswith("sigap_refresh=")
    lowered = cookie.lower()
    for part in ("httponly", "samesite=strict", "path=/v1/auth", "secure"):
        assert part in lowered
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["unit_code"] == "3173020"


async def test_the_cookie_is_not_secure_only_for_plain_http_on_loopback(
    context: AppContext, client: httpx.AsyncClient
) -> None:
    await make_staff(context, "konselor.menteng", "counselor", "3173020")
    response = await client.post(
        "http://127.0.0.1:8000/v1/auth/session",
        json={"username": "konselor.menteng", "password": PASSWORD},
        headers={**CSRF, "Host": "127.0.0.1:8000"},
    )
    assert response.status_code == 200
    assert "secure" not in response.headers["set-cookie"].lower()


async def test_refresh_rotates_the_cookie_and_a_replayed_cookie_signs_out(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    first = (await _sign_in(client, context)).cookies["sigap_refresh"]
    client.cookies.clear()  # Secure cookies: the test sends them by hand over plain http
    rotated = await client.post(
        "/v1/auth/session/refresh", headers={**CSRF, "Cookie": f"sigap_refresh={first}"}
    )
    assert rotated.status_code == 200
    second = rotated.cookies["sigap_refresh"]
    assert second != first
    replay = await client.post(
        "/v1/auth/session/refresh", headers={**CSRF, "Cookie": f"sigap_refresh={first}"}
    )
    assert replay.status_code == 401
    assert replay.headers["content-type"] == "application/problem+json"
    after = await client.post(
        "/v1/auth/session/refresh", headers={**CSRF, "Cookie": f"sigap_refresh={second}"}
    )
    assert after.status_code == 401  # the whole sign-in was revoked


async def test_cookie_routes_refuse_requests_without_the_header_or_from_another_site(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    value = (await _sign_in(client, context)).cookies["sigap_refresh"]
    cookie = {"Cookie": f"sigap_refresh={value}"}
    client.cookies.clear()
    bare = await client.post("/v1/auth/session/refresh", headers=cookie)
    assert bare.status_code == 403
    assert bare.json()["type"] == "/problems/forbidden"
    foreign = await client.post(
        "/v1/auth/session/refresh",
        headers={**CSRF, **cookie, "Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    same = await client.post(
        "/v1/auth/session/refresh", headers={**CSRF, **cookie, "Origin": "http://sigap.test"}
    )
    assert same.status_code == 200


async def test_sign_out_revokes_the_session_and_clears_the_cookie(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    cookie = (await _sign_in(client, context)).cookies["sigap_refresh"]
    client.cookies.clear()
    out = await client.post(
        "/v1/auth/session/signout", headers={**CSRF, "Cookie": f"sigap_refresh={cookie}"}
    )
    assert out.status_code == 204
    assert 'sigap_refresh=""' in out.headers["set-cookie"] or "max-age=0" in (
        out.headers["set-cookie"].lower()
    )
    again = await client.post(
        "/v1/auth/session/refresh", headers={**CSRF, "Cookie": f"sigap_refresh={cookie}"}
    )
    assert again.status_code == 401


async def test_wrong_password_and_unknown_fields_change_nothing(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await make_staff(context, "konselor.menteng", "counselor", "3173020")
    wrong = await client.post(
        "/v1/auth/session", json={"username": "konselor.menteng", "password": "nope"}, headers=CSRF
    )
    assert wrong.status_code == 401
    assert "set-cookie" not in wrong.headers
    extra = await client.post(
        "/v1/auth/session",
        json={"username": "konselor.menteng", "password": PASSWORD, "remember": True},
        headers=CSRF,
    )
    assert extra.status_code == 422


async def test_no_cookie_means_no_session_not_an_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/session/refresh", headers=CSRF)
    assert response.status_code == 204


async def test_console_and_docs_are_local_pages_with_a_strict_csp(
    client: httpx.AsyncClient,
) -> None:
    root = await client.get("/")
    assert root.status_code == 307 and root.headers["location"] == "/console/"
    page = await client.get("/console/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert "<script>" not in page.text and "http" not in page.text
    docs = await client.get("/docs")
    assert "script-src 'self';" in docs.headers["content-security-policy"]
    assert "cdn" not in docs.text
    assert (await client.get("/docs/assets/swagger-ui-bundle.js")).status_code == 200
    assert (await client.get("/console/js/app.js")).headers["content-type"].startswith(
        "text/javascript"
    )
    assert (await client.get("/console/../main.py")).status_code == 404
    assert (await client.get("/console/i18n/fr.json")).status_code == 404


async def test_the_map_has_every_kecamatan_and_the_region_time_zone(
    client: httpx.AsyncClient,
) -> None:
    data = (await client.get("/console/map.json")).json()
    assert data["timezone"] == "Asia/Jakarta"
    assert len(data["areas"]) == 44
    assert len(data["stations"]) > 200


def test_every_message_key_used_by_the_console_is_in_both_catalogues() -> None:
    import json
    import re

    from app.console.routes import STATIC

    catalogues = {
        lang: json.loads((STATIC / "i18n" / f"{lang}.json").read_text()) for lang in ("id", "en")
    }
    assert set(catalogues["id"]) == set(catalogues["en"])
    used: set[str] = set()
    for script in (STATIC / "js").glob("*.js"):
        used |= set(re.findall(r"\bt\(\s*\"([a-z_]+\.[a-z_.]+)\"", script.read_text()))
        used |= set(re.findall(r"\"((?:done|countdown|queue|transit|nav|action)\.[a-z_]+)\"",
                               script.read_text()))
    missing = sorted(used - set(catalogues["en"]))
    assert missing == []


async def test_an_admin_resets_a_password_and_the_old_sessions_end(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    from tests.helpers import sign_in, staff_token

    admin = await staff_token(client, context, "admin", "admin", "central")
    await make_staff(context, "konselor.menteng", "counselor", "3173020")
    old = await sign_in(client, "konselor.menteng")
    users = (await client.get("/v1/users", headers={"Authorization": f"Bearer {admin}"})).json()
    user_id = next(u["id"] for u in users["items"] if u["username"] == "konselor.menteng")
    short = await client.post(
        f"/v1/users/{user_id}/password",
        json={"password": "short"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert short.status_code == 422
    reset = await client.post(
        f"/v1/users/{user_id}/password",
        json={"password": "a-brand-new-password"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert reset.status_code == 200
    refreshed = await client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": old["refresh_token"]},
    )
    assert refreshed.status_code == 400
    assert (await sign_in(client, "konselor.menteng", "a-brand-new-password"))["access_token"]
    counselor = await client.post(
        f"/v1/users/{user_id}/password",
        json={"password": "a-brand-new-password"},
        headers={"Authorization": f"Bearer {old['access_token']}"},
    )
    assert counselor.status_code in (401, 403)

"""Sign-in an attacker cannot block (OWASP device cookies): a browser or phone that signed in to
the account before is judged on its own failures; unknown devices share one bounded lane per
account; a supervisor's one-time unlock and an admin's password reset are the way back in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from app.clock import FrozenClock
from app.context import AppContext
from app.identity import device_cookies
from app.main import create_app
from app.models import AuditEntry, StaffUser
from tests.helpers import PASSWORD, auth, make_staff, staff_token
from tests.identity.signin import attempt

CSRF = {"X-Sigap-Console": "1"}
ROTATING = "x-test-client"


@asynccontextmanager
async def rotating_client(context: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    """One app whose caller's address is what the test says (``x-test-client``): an attacker
    with a new IPv6 /64 for every try, without building a hundred apps."""
    app = create_app(context=context, run_loops=False)

    async def addressed(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            host = headers.get(ROTATING.encode())
            if host:
                scope = {**scope, "client": (host.decode(), 40000)}
        await app(scope, receive, send)

    transport = httpx.ASGITransport(app=addressed, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sigap.test") as http:
        yield http


async def _browser_sign_in(
    client: httpx.AsyncClient, username: str, password: str, cookies: dict[str, str] | None = None
) -> httpx.Response:
    """The console's sign-in, with the cookies this browser holds (sent by hand: they are
    Secure, and the test talks plain http)."""
    cookie = "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())
    return await client.post(
        "/v1/auth/session",
        json={"username": username, "password": password},
        headers={**CSRF, **({"Cookie": cookie} if cookie else {})},
    )


def _device_cookie(response: httpx.Response) -> dict[str, str]:
    cookies = {k: v for k, v in response.cookies.items() if k.startswith("sigap_device_")}
    assert len(cookies) == 1, response.headers.get_list("set-cookie")
    return cookies


async def _user_id(context: AppContext, username: str) -> uuid.UUID:
    async with context.sessions() as session:
        user_id = await session.scalar(select(StaffUser.id).where(StaffUser.username == username))
    assert user_id is not None
    return user_id


async def test_a_known_browser_signs_in_while_100_failures_arrive_from_100_networks(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await make_staff(context, "konselor.menteng", "counselor", "3171060")
    first = await _browser_sign_in(client, "konselor.menteng", PASSWORD)
    assert first.status_code == 200, first.text
    device = _device_cookie(first)
    (set_device,) = [c for c in first.headers.get_list("set-cookie") if "sigap_device_" in c]
    for part in ("httponly", "samesite=strict", "secure", "path=/v1/auth"):
        assert part in set_device.lower()
    assert "sigap_device" not in first.text  # never in the body the page can read

    statuses: list[int] = []
    async with rotating_client(context) as attacker:
        for n in range(100):
            guess = await attempt_from(attacker, f"2001:db8:{n:x}::1", "konselor.menteng")
            statuses.append(guess.status_code)
            clock.advance(1.35)  # 100 tries over 135 s
            if n % 10 == 9:  # she signs in again and again meanwhile, from her browser
                again = await _browser_sign_in(client, "konselor.menteng", PASSWORD, device)
                assert again.status_code == 200, (n, again.text)
    assert statuses.count(400) == 10  # ten real guesses, then the unknown lane is locked
    assert set(statuses) == {400, 429}
    # A device it has not signed in from waits, even with the right password...
    async with rotating_client(context) as new_phone:
        locked = await attempt_from(new_phone, "2001:db8:ffff::1", "konselor.menteng", PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 60
    # ...her browser never did.
    assert (await _browser_sign_in(client, "konselor.menteng", PASSWORD, device)).is_success


async def attempt_from(
    client: httpx.AsyncClient, host: str, username: str, password: str = "guess"
) -> httpx.Response:
    return await client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
        headers={ROTATING: host},
    )


async def test_the_unknown_lane_locks_and_every_further_failure_locks_it_again(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await make_staff(context, "konselor.tebet", "counselor", "3174010")
    for _ in range(10):
        await attempt(client, "konselor.tebet", "guess")
        clock.advance(60)  # past every back-off step: only the lockout is left
    locked = await attempt(client, "konselor.tebet", PASSWORD)
    assert locked.status_code == 429 and 800 < int(locked.headers["retry-after"]) <= 900
    clock.advance(900)
    assert (await attempt(client, "konselor.tebet", "guess")).status_code == 400
    again = await attempt(client, "konselor.tebet", PASSWORD)
    assert again.status_code == 429 and int(again.headers["retry-after"]) == 900
    clock.advance(900)
    assert (await attempt(client, "konselor.tebet", PASSWORD)).status_code == 200


async def _lock_unknown_lane(context: AppContext, username: str) -> None:
    """Ten guesses from ten networks, a minute apart (past every back-off step): the account's
    unknown-devices lane is locked for 15 minutes."""
    assert isinstance(context.clock, FrozenClock)
    async with rotating_client(context) as attacker:
        for n in range(10):
            guess = await attempt_from(attacker, f"2001:db8:{n:x}::7", username)
            assert guess.status_code in (400, 429)  # 429: locked already, by earlier guesses
            context.clock.advance(60)
    context.clock.advance(-60)  # the lock runs from the tenth guess


async def test_a_forged_expired_or_foreign_device_token_is_an_unknown_device(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await make_staff(context, "konselor.a", "counselor", "3171060")
    await make_staff(context, "konselor.b", "counselor", "3171060")
    mine = (await attempt(client, "konselor.a", PASSWORD)).json()["device_token"]
    theirs = (await attempt(client, "konselor.b", PASSWORD)).json()["device_token"]
    b_cookie = _device_cookie(await _browser_sign_in(client, "konselor.b", PASSWORD))
    await _lock_unknown_lane(context, "konselor.a")
    head, mac = mine.rsplit(".", 1)
    forged = f"{head}.{'A' * len(mac)}"
    a_id = await _user_id(context, "konselor.a")
    for token in (forged, theirs, "garbage", mine.replace(a_id.hex, uuid.uuid4().hex)):
        answer = await attempt(client, "konselor.a", PASSWORD, device=token)
        assert answer.status_code == 429, token
    # Another account's browser cookie, renamed as if it were this account's: still unknown.
    renamed = {device_cookies.cookie_name(a_id): next(iter(b_cookie.values()))}
    assert (await _browser_sign_in(client, "konselor.a", PASSWORD, renamed)).status_code == 429
    # The genuine one works, until it expires (180 days).
    assert (await attempt(client, "konselor.a", PASSWORD, device=mine)).status_code == 200
    clock.advance(timedelta(days=181).total_seconds())
    await _lock_unknown_lane(context, "konselor.a")
    assert (await attempt(client, "konselor.a", PASSWORD, device=mine)).status_code == 429


async def test_a_device_token_that_keeps_failing_is_retired_to_the_unknown_lane(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await make_staff(context, "konselor.c", "counselor", "3171060")
    token = (await attempt(client, "konselor.c", PASSWORD)).json()["device_token"]
    await _lock_unknown_lane(context, "konselor.c")
    for _ in range(10):  # its own back-off, never the unknown lane's lock
        assert (await attempt(client, "konselor.c", "guess", device=token)).status_code == 400
        clock.advance(60)
    retired = await attempt(client, "konselor.c", PASSWORD, device=token)
    assert retired.status_code == 429  # judged as unknown now: the lane is locked


async def test_a_supervisors_one_time_unlock_lets_the_counselor_in_on_a_new_phone(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await make_staff(context, "konselor.kb", "counselor", "3171060")
    supervisor = await staff_token(client, context, "spv", "supervisor", "central")
    counselor = await staff_token(client, context, "konselor.x", "counselor", "3174010")
    await _lock_unknown_lane(context, "konselor.kb")
    assert (await attempt(client, "konselor.kb", PASSWORD)).status_code == 429
    user_id = await _user_id(context, "konselor.kb")
    url = f"/v1/users/{user_id}/sign-in-unlock"
    assert (await client.post(url, headers=auth(counselor))).status_code == 403
    assert (
        await client.post(f"/v1/users/{uuid.uuid4()}/sign-in-unlock", headers=auth(supervisor))
    ).status_code == 404
    issued = await client.post(url, headers=auth(supervisor))
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]
    # The code opens nothing without the password...
    assert (await attempt(client, "konselor.kb", "guess", unlock_code=code)).status_code == 400
    # ...with it, the new phone is in, and known from now on.
    answer = await attempt(client, "konselor.kb", PASSWORD, unlock_code=code)
    assert answer.status_code == 200, answer.text
    phone = answer.json()["device_token"]
    # One time only: the code is spent.
    spent = await attempt(client, "konselor.kb", PASSWORD, unlock_code=code)
    assert spent.status_code == 429
    assert (await attempt(client, "konselor.kb", PASSWORD, device=phone)).status_code == 200
    async with context.sessions() as session:
        audit = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "staff.sign_in_unlock_issued")
            )
        ).one()
    assert audit.object_id == user_id and code not in str(audit.detail)
    # A code survives five wrong passwords, not more.
    second = (await client.post(url, headers=auth(supervisor))).json()["code"]
    for _ in range(5):
        wrong = await attempt(client, "konselor.kb", "guess", unlock_code=second)
        assert wrong.status_code == 400
    worn = await attempt(client, "konselor.kb", PASSWORD, unlock_code=second)
    assert worn.status_code == 429


async def test_an_admins_password_reset_clears_the_unknown_lane_and_forgets_every_device(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await make_staff(context, "konselor.d", "counselor", "3171060")
    admin = await staff_token(client, context, "adm", "admin", "central")
    stolen = (await attempt(client, "konselor.d", PASSWORD)).json()["device_token"]
    await _lock_unknown_lane(context, "konselor.d")
    user_id = await _user_id(context, "konselor.d")
    new_password = "a new password for konselor d"
    reset = await client.post(
        f"/v1/users/{user_id}/password", json={"password": new_password}, headers=auth(admin)
    )
    assert reset.is_success, reset.text
    # A new phone gets in with the new password at once: the lane started afresh...
    fresh = await attempt(client, "konselor.d", new_password)
    assert fresh.status_code == 200, fresh.text
    # ...and the device that signed in with the old password is unknown now (it could be
    # whoever stole it): with the lane locked again, it waits; the new phone does not.
    await _lock_unknown_lane(context, "konselor.d")
    assert (await attempt(client, "konselor.d", new_password, device=stolen)).status_code == 429
    phone = fresh.json()["device_token"]
    assert (await attempt(client, "konselor.d", new_password, device=phone)).status_code == 200


async def test_a_throttled_console_sign_in_says_how_long_to_wait(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await make_staff(context, "konselor.e", "counselor", "3171060")
    await _lock_unknown_lane(context, "konselor.e")
    answer = await _browser_sign_in(client, "konselor.e", PASSWORD)
    assert answer.status_code == 429
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"].endswith("/rate-limited")
    assert problem["retry_after"] == int(answer.headers["retry-after"]) > 0

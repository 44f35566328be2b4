"""The console's sign-in when the account's unknown-devices lane is locked: it says how many
seconds to wait (never "Server tidak dapat dihubungi"), and a supervisor's one-time unlock code
typed beside the password lets the counselor in from this new browser. Once, on SQLite, like the
other browser tests; the lane is locked through the API (two wrong passwords, as configured), so
nothing waits on a clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import BACKEND
from tests.console.browser import PASSWORD, Seeded, catalogue, create_admin, sign_in
from tests.console.test_browser import Server, Watched, browser

__all__ = ["browser"]  # the module's Chromium, shared by the tests below

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="the browser tests run once, on SQLite")
USER = "konselor.baru"


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Seeded]]:
    folder = tmp_path_factory.mktemp("console-lanes")
    url = f"sqlite+aiosqlite:///{folder / 'sigap.db'}"
    srv = Server(url, folder / "server.log")
    # The second wrong password from an unknown device locks the lane (15 min).
    srv.env = {
        "SIGAP_SECURITY__SIGNIN_FREE_FAILURES": "1",
        "SIGAP_SECURITY__SIGNIN_LOCKOUT_FAILURES": "2",
    }
    srv.start()
    try:
        create_admin(url)
        seeded = Seeded(srv.base)
        with seeded.client() as http:
            seeded.admin_token = sign_in(http, "admin")
        created = seeded.admin(
            "POST",
            "/v1/users",
            json={
                "username": USER,
                "password": PASSWORD,
                "role": "counselor",
                "unit_code": "3173020",
            },
        )
        assert created.status_code == 201, created.text
        yield srv, seeded
    finally:
        srv.stop()


def _lock(seeded: Seeded) -> None:
    with httpx.Client(base_url=seeded.base, timeout=30) as http:
        for _ in range(2):
            http.post(
                "/v1/auth/token",
                data={"grant_type": "password", "username": USER, "password": "a wrong guess"},
            )
        probe = http.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": USER, "password": PASSWORD},
        )
    assert probe.status_code == 429, probe.text


def test_a_throttled_sign_in_says_how_long_to_wait_and_an_unlock_code_lets_her_in(
    locked_server: tuple[Server, Seeded], browser: Any
) -> None:
    _, seeded = locked_server
    _lock(seeded)
    page_owner = Watched(browser, seeded.base)
    page = page_owner.page
    page.goto("/")
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    before, _, _ = catalogue("id")["signin.throttled"].partition("{seconds}")
    page.wait_for_selector(f"#signin-error:has-text('{before.strip()}')")
    shown = page.inner_text("#signin-error")
    assert catalogue("id")["error.network"] not in shown
    seconds = int(re.search(r"(\d+) detik", shown).group(1))  # type: ignore[union-attr]
    assert 0 < seconds <= 900
    page_owner.shot("sign-in-throttled-id")

    user_id = next(
        u["id"]
        for u in seeded.admin("GET", "/v1/users?limit=100").json()["items"]
        if u["username"] == USER
    )
    unlock = seeded.admin("POST", f"/v1/users/{user_id}/sign-in-unlock")
    assert unlock.status_code == 201, unlock.text
    page.click("details.unlock summary")
    page.fill("#unlock-code", unlock.json()["code"])
    page.click("#sign-in")
    page.wait_for_selector("#sign-out", timeout=30_000)
    # The throttled attempt was a refused 429, recorded as such; nothing else went wrong.
    page_owner.errors = [e for e in page_owner.errors if not e.startswith("429 ")]
    page_owner.errors = [e for e in page_owner.errors if "status of 429" not in e]
    page_owner.check_clean()
    page_owner.close()

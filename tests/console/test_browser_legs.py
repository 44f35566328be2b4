"""A transit guard and a counselor on one alert, in real browsers (PRODUCT.md section 2, steps
3-5); accepting while reads fail; closing only on purpose; the last admin stays.

Runs once, on SQLite, against its own server (the fixtures of ``test_browser``). Every wait is
generous; nothing asserts a timing.
"""

# The module-scoped fixtures of ``test_browser`` are imported by name; each test's parameter of
# the same name is how pytest hands them over.
# ruff: noqa: F811

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import BACKEND
from tests.console.browser import MENTENG, PASSWORD, Seeded
from tests.console.test_browser import (  # noqa: F401 - fixtures are found by name
    OFFER_WAIT_MS,
    Server,
    Watched,
    browser,
    catalogue,
    gateway,
    row,
    server,
    wait_present,
)

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="the browser tests run once, on SQLite")
STATION = {"transit": {"operator": "transjakarta", "station": "Bundaran HI"}}


def _events(seeded: Seeded, alert_id: str) -> list[str]:
    timeline = seeded.admin("GET", f"/v1/alerts/{alert_id}/timeline").json()
    return [entry["event"] for entry in timeline]


def test_guard_and_counselor_work_one_alert_at_a_station_and_nobody_calls_112(
    server: tuple[Server, Seeded], browser: Any
) -> None:
    _, seeded = server
    guard = Watched(browser, seeded.base, phone=True)
    counselor = Watched(browser, seeded.base)
    guard.sign_in("petugas.tj")
    counselor.sign_in("konselor.menteng")
    wait_present(seeded, "transjakarta", "petugas.tj")
    wait_present(seeded, MENTENG, "konselor.menteng")
    alert = seeded.press(**STATION)
    code = alert["case_code"]

    # The guard acknowledges from her queue, on her phone.
    offer = row(guard.page, code)
    offer.wait_for(timeout=OFFER_WAIT_MS)
    offer.locator("button.accept:not([disabled])").click()
    guard.page.wait_for_selector("#act-handed-counselor:not([disabled])")

    # The counselor's own leg stays open beside the guard's: she accepts too.
    mine = row(counselor.page, code)
    mine.wait_for(timeout=OFFER_WAIT_MS)
    mine.locator("button.row-open").click()
    counselor.page.wait_for_selector("#act-accept:not([disabled])")
    counselor.page.click("#act-accept")
    counselor.page.wait_for_selector('#timeline li[data-event="assignment.accepted"]')

    # The guard hands the victim over, on purpose, and sees the counselor took over.
    guard.page.click("#act-handed-counselor")
    guard.page.click("#confirm-yes")
    guard.page.wait_for_selector("#taken-up:has-text('Menteng')", timeout=OFFER_WAIT_MS)
    guard.shot("legs-guard-taken-up-id")

    # The counselor sees the guard's step and records first contact: it is hers to record.
    counselor.page.wait_for_selector(
        '#timeline li[data-event="assignment.handed_over"]', timeout=OFFER_WAIT_MS
    )
    counselor.page.wait_for_selector("#act-contacted:not([disabled])")
    counselor.page.click("#act-contacted")
    counselor.page.wait_for_selector('#timeline li[data-event="alert.contacted"]')
    counselor.shot("legs-counselor-contacted-id")

    # The guard's active queue is clear; the alert is under "done".
    guard.page.click("#back")
    guard.page.wait_for_selector("#queue-empty", timeout=OFFER_WAIT_MS)
    guard.page.click("#queue-filter-closed")
    row(guard.page, code).wait_for(timeout=OFFER_WAIT_MS)
    guard.shot("legs-guard-done-id")
    assert "alert.transferred" not in _events(seeded, alert["id"])
    guard.check_clean()
    counselor.check_clean()
    guard.close()
    counselor.close()


def test_accept_from_the_queue_while_reading_the_alert_answers_503(
    server: tuple[Server, Seeded], browser: Any
) -> None:
    _, seeded = server
    counselor = Watched(browser, seeded.base)
    counselor.sign_in("konselor.menteng")
    wait_present(seeded, MENTENG, "konselor.menteng")

    def shed(route: Any) -> None:
        if route.request.method == "GET":  # reads are shed; accept never is
            route.fulfill(status=503, headers={"Retry-After": "5"}, body="{}")
        else:
            route.continue_()

    counselor.page.route("**/v1/alerts/**", shed)
    counselor.page.route("**/v1/assignments?**", shed)
    alert = seeded.press()
    offer = row(counselor.page, alert["case_code"])
    offer.wait_for(timeout=OFFER_WAIT_MS)  # from assignment.offered alone
    offer.locator("button.accept:not([disabled])").click()
    deadline_s = 30
    for _ in range(deadline_s * 5):
        legs = seeded.admin("GET", "/v1/assignments?status=accepted&unit=" + MENTENG).json()
        if any(leg["alert_id"] == alert["id"] for leg in legs["items"]):
            break
        counselor.page.wait_for_timeout(200)
    else:
        raise AssertionError("the accept from the queue never reached the server")
    assert counselor.errors == []
    counselor.close()


def test_resolve_without_choosing_an_outcome_is_impossible(
    server: tuple[Server, Seeded], browser: Any
) -> None:
    _, seeded = server
    counselor = Watched(browser, seeded.base)
    counselor.sign_in("konselor.menteng")
    wait_present(seeded, MENTENG, "konselor.menteng")
    alert = seeded.press()
    offer = row(counselor.page, alert["case_code"])
    offer.wait_for(timeout=OFFER_WAIT_MS)
    offer.locator("button.row-open").click()
    page = counselor.page
    page.click("#act-accept:not([disabled])")
    page.wait_for_selector("#act-resolve:not([disabled])")
    assert page.locator("#disposition").input_value() == ""  # nothing chosen for her
    assert page.locator("#handover-to").input_value() == ""
    page.click("#act-resolve")
    page.wait_for_selector(
        "#action-error:has-text('" + catalogue("id")["action.choose_disposition"] + "')"
    )
    assert page.locator("#confirm").count() == 0
    page.select_option("#disposition", "assisted")
    page.click("#act-resolve")
    page.wait_for_selector("#confirm-text")
    assert catalogue("id")["disposition.assisted"] in page.locator("#confirm-text").inner_text()
    counselor.shot("resolve-confirm-id")
    page.click("#confirm-no")  # back: nothing closed
    assert seeded.admin("GET", f"/v1/alerts/{alert['id']}").json()["state"] == "acknowledged"
    counselor.check_clean()
    counselor.close()


def test_the_last_admin_cannot_disable_itself_in_the_console(
    server: tuple[Server, Seeded], browser: Any
) -> None:
    _, seeded = server
    admin = Watched(browser, seeded.base)
    admin.sign_in("admin")
    admin.page.click("nav button:nth-child(2)")
    me = admin.page.locator('#user-table tr[data-user="admin"]')
    me.wait_for(timeout=OFFER_WAIT_MS)
    me.locator("button.toggle-user").click()
    me.locator("button.confirm-disable").click()
    admin.page.wait_for_selector("#user-error:not(:empty)", timeout=OFFER_WAIT_MS)
    admin.shot("last-admin-refused-id")
    users = seeded.admin("GET", "/v1/users?limit=100").json()["items"]
    assert next(u for u in users if u["username"] == "admin")["disabled"] is False
    refused = ("409 PATCH", "Failed to load resource: the server responded with a status of 409")
    admin.errors = [e for e in admin.errors if not e.startswith(refused)]  # the refusal itself
    admin.check_clean()
    admin.close()
    assert PASSWORD  # signs in as before (seeded.admin above used its token)

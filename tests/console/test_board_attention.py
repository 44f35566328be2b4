"""The supervisor's board leads with the worst, from server state: after a reload it shows an
alert whose ladder is exhausted and whose 112 hand-off is unconfirmed first, flagged in words,
and lists its open attention items (not only what happened since the page opened).

Its own server (module scope), on SQLite like the other browser tests; every wait is generous.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import playwright.sync_api as playwright_sync
import pytest

from tests.conftest import BACKEND
from tests.console.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    MENTENG,
    Seeded,
    catalogue,
    create_admin,
    hand_to_112,
)
from tests.console.test_browser import OFFER_WAIT_MS, Server, Watched, wait_present

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="the browser tests run once, on SQLite")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Seeded]]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: ./test installs it (apt-get install chromium)")
    folder = tmp_path_factory.mktemp("board")
    url = f"sqlite+aiosqlite:///{folder / 'sigap.db'}"
    srv = Server(url, folder / "server.log")
    srv.env = {"SIGAP_INTEGRATIONS__HANDOFF_CHECK_S": "1"}
    srv.start()
    try:
        create_admin(url)
        seeded = Seeded(srv.base)
        seeded.seed()
        yield srv, seeded
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def first_row_is(page: Any, alert_id: str) -> None:
    page.wait_for_function(
        """(id) => {
          const first = document.querySelector('#board-table tbody tr');
          return first && first.dataset.alert === id && Number(first.dataset.rank) > 0;
        }""",
        arg=alert_id,
        timeout=OFFER_WAIT_MS,
    )


def test_after_a_reload_the_board_shows_an_exhausted_ladder_with_an_unconfirmed_hand_off_first(
    server: tuple[Server, Seeded], browser: Any
) -> None:
    srv, seeded = server
    # The Menteng counselor's console is open: fresh presses there have an open offer and need
    # no supervisor.
    counselor = Watched(browser, seeded.base)
    counselor.sign_in("konselor.menteng")
    wait_present(seeded, MENTENG, "konselor.menteng")
    worst = seeded.press()
    # Every step tried and handed to 112 minutes ago; 112 has confirmed nothing.
    hand_to_112(srv.url, worst["id"], ago=timedelta(minutes=5))
    fresh = seeded.press()  # newer, and fine: it must not come first

    sup = Watched(browser, seeded.base)
    sup.sign_in("pengawas.pusat")
    sup.page.wait_for_selector(
        f'#board-table tr[data-alert="{fresh["id"]}"]', timeout=OFFER_WAIT_MS
    )
    first_row_is(sup.page, worst["id"])
    sup.page.reload()  # a new shift, or a reload: the server still says what needs a supervisor
    sup.page.wait_for_selector("#sign-out", timeout=OFFER_WAIT_MS)
    first_row_is(sup.page, worst["id"])

    texts = catalogue("id")
    first = sup.page.locator("#board-table tbody tr").first
    flags = first.locator("td.flags").inner_text()
    assert texts["attention.kind.handoff_unconfirmed"] in flags
    assert texts["attention.kind.ladder_exhausted"] in flags
    assert "⚠" in flags
    assert "breach" in (first.get_attribute("class") or "")
    fresh_row = sup.page.locator(f'#board-table tr[data-alert="{fresh["id"]}"]')
    assert fresh_row.get_attribute("data-rank") == "0"
    # The live warnings list its open items, though they were raised before the page opened.
    item = sup.page.wait_for_selector(
        f'#attention li[data-alert="{worst["id"]}"][data-kind="handoff_unconfirmed"]',
        timeout=OFFER_WAIT_MS,
    )
    assert item is not None and worst["case_code"] in item.inner_text()
    caption = sup.page.locator("#board-table caption").inner_text()
    assert caption.startswith(texts["board.active"].split("{n}")[0])
    sup.shot("board-attention-id")
    # The message the supervisor was sent about it is in their inbox too (here the server has
    # no gateway: the log alone had it before).
    message = sup.page.locator('#inbox li[data-kind="handoff_unacknowledged"]')
    message.wait_for(timeout=OFFER_WAIT_MS)
    assert worst["case_code"] in message.inner_text()
    sup.page.click("#inbox-read")
    sup.page.locator('#inbox li[data-kind="handoff_unacknowledged"].read').wait_for(
        timeout=OFFER_WAIT_MS
    )

    # Dealt with: acknowledged, it leaves the list (and stays gone after a reload).
    # A locator, not the element: live events re-render the board.
    sup.page.locator(
        f'#attention li[data-alert="{worst["id"]}"][data-kind="handoff_unconfirmed"] button.ack'
    ).click()
    sup.page.wait_for_selector(
        f'#attention li[data-alert="{worst["id"]}"][data-kind="handoff_unconfirmed"]',
        state="detached",
        timeout=OFFER_WAIT_MS,
    )
    sup.page.reload()
    sup.page.wait_for_selector("#sign-out", timeout=OFFER_WAIT_MS)
    sup.page.wait_for_selector(
        f'#attention li[data-alert="{worst["id"]}"][data-kind="ladder_exhausted"]',
        timeout=OFFER_WAIT_MS,
    )
    assert (
        sup.page.locator(
            f'#attention li[data-alert="{worst["id"]}"][data-kind="handoff_unconfirmed"]'
        ).count()
        == 0
    )
    sup.check_clean()
    counselor.close()
    sup.close()


def test_opening_an_alert_while_the_server_cannot_be_reached_says_so_in_the_consoles_language(
    server: tuple[Server, Seeded], browser: Any
) -> None:
    _, seeded = server
    alert = seeded.press()
    sup = Watched(browser, seeded.base)
    sup.sign_in("pengawas.pusat")
    board_row = f'#board-table tr[data-alert="{alert["id"]}"]'
    sup.page.wait_for_selector(board_row, timeout=OFFER_WAIT_MS)
    # The server is gone for this page: every API request fails before any answer.
    sup.page.route("**/v1/**", lambda route: route.abort("connectionrefused"))
    sup.page.click(f"{board_row} button")
    texts = catalogue("id")
    sup.page.wait_for_function(
        "(text) => document.body.innerText.includes(text)",
        arg=texts["error.network"],
        timeout=OFFER_WAIT_MS,
    )
    assert "Failed to fetch" not in sup.page.inner_text("body")
    sup.close()


def test_a_second_offer_while_an_alert_is_open_stays_visible_until_seen(
    server: tuple[Server, Seeded], browser: Any
) -> None:
    _, seeded = server
    counselor = Watched(browser, seeded.base)
    counselor.sign_in("konselor.menteng")
    wait_present(seeded, MENTENG, "konselor.menteng")
    first = seeded.press()
    page = counselor.page
    offer = page.locator(f'li.row[data-case="{first["case_code"]}"]')
    offer.wait_for(timeout=OFFER_WAIT_MS)
    offer.locator("button.row-open").click()
    page.wait_for_selector("#alert-timeline", timeout=OFFER_WAIT_MS)

    second = seeded.press()  # while the first is open
    texts = catalogue("id")
    banner = page.locator("#new-offers")
    banner.locator(f'button.open-offer:has-text("{second["case_code"]}")').wait_for(
        timeout=OFFER_WAIT_MS
    )
    assert texts["offers.banner"].split("(")[0] in banner.inner_text()
    assert page.title().startswith("(1) ")
    assert "(1)" in page.locator("nav button.nav").last.inner_text()
    counselor.shot("second-offer-banner-id")
    # Not a tint that fades: still there a while later (the page's own clock, not a latency).
    page.wait_for_timeout(6000)
    assert banner.is_visible()
    # Muted for this offer: the banner stays, labelled, until the offer is seen.
    banner.locator("button.mute-offer").click()
    banner.locator(".muted").wait_for(timeout=OFFER_WAIT_MS)
    assert banner.is_visible()

    banner.locator("button.open-offer").click()  # seen
    page.wait_for_selector("#new-offers", state="hidden", timeout=OFFER_WAIT_MS)
    assert not page.title().startswith("(")
    counselor.check_clean()
    counselor.close()


def test_words_and_numbers_have_no_placeholders_and_follow_the_consoles_language(
    server: tuple[Server, Seeded], browser: Any
) -> None:
    _, seeded = server
    # At a Transjakarta station: the operator's control desk is offered beside the post, and a
    # control desk has no distance to show.
    guard = Watched(browser, seeded.base, phone=True)
    guard.sign_in("petugas.tj")
    wait_present(seeded, "transjakarta", "petugas.tj")
    # Next to the Menteng post, which the suite keeps open at any hour (Blok M's posts close at
    # night, and a closed post shows no distance: the test would depend on the time of day).
    alert = seeded.press(transit={"operator": "transjakarta", "station": "Bundaran HI"})
    sup = Watched(browser, seeded.base)
    sup.sign_in("pengawas.pusat")
    board_row = f'#board-table tr[data-alert="{alert["id"]}"]'
    sup.page.wait_for_selector(board_row, timeout=OFFER_WAIT_MS)
    # The week's chart names days as Indonesians write them ("8 Des"), never "12-08".
    labels = sup.page.locator("svg.chart text").evaluate_all("els => els.map((e) => e.textContent)")
    assert labels and not any(re.fullmatch(r"\d\d-\d\d", label) for label in labels)
    sup.page.click(f"{board_row} button")
    routing = sup.page.wait_for_selector("#alert-routing li", timeout=OFFER_WAIT_MS)
    assert routing is not None
    sup.page.wait_for_function(
        "() => document.querySelector('#alert-routing').innerText.includes('km')"
        " || document.querySelector('#alert-routing').innerText.includes('jarak')",
        timeout=OFFER_WAIT_MS,
    )
    text = sup.page.inner_text("#alert-routing")
    texts = catalogue("id")
    assert "?" not in text and "Langkah 0" not in text
    assert texts["unitname.transjakarta"] in text and "control desk" not in text
    # Every step's words, distances with a decimal comma and the desks without a distance:
    # tests/console/test_browser_words.py.
    sup.check_clean()
    sup.close()
    guard.close()

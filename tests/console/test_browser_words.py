# ruff: noqa: E501, F811 - the fixtures are test_browser.py's; the JavaScript reads best whole
"""The console's words and numbers in a real browser: no placeholder text, Indonesian number and
date conventions, unit names in the console's language, no label cut off at 390 px or 1366 px.

Screenshots of the queue and an alert at both widths in both languages go to
``test-artifacts/console/words-<view>-<width>-<lang>.png``. SQLite only, like the other browser
tests (the console does not depend on the database).
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.conftest import BACKEND
from tests.console.browser import ARTIFACTS, MENTENG, PASSWORD, Seeded, catalogue
from tests.console.test_browser import (  # noqa: F401 - the module's fixtures, reused as they are
    OFFER_WAIT_MS,
    Server,
    Watched,
    browser,
    gateway,
    server,
    wait_present,
)

pytestmark = pytest.mark.skipif(
    BACKEND != "sqlite", reason="the browser tests run once, on SQLite"
)
WIDTHS = (390, 1366)
BLOK_M = (-6.244, 106.800)  # the Transjakarta Blok M terminal, inside DKI Jakarta

# Every label, button, select and placeholder whose text does not fit its box. A select shows
# its chosen option; an input or textarea its placeholder while empty (measured with the
# element's own font, less its padding; a select also keeps room for its arrow).
CLIPPED_JS = """() => {
  const canvas = document.createElement('canvas').getContext('2d');
  const width = (el, text) => {
    const s = getComputedStyle(el);
    canvas.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
    return canvas.measureText(text).width;
  };
  const inner = (el) => {
    const s = getComputedStyle(el);
    return el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
  };
  const out = [];
  const shown = (el) => el.offsetParent !== null && !el.closest('[hidden]');
  for (const el of document.querySelectorAll('button, label, legend, dt, dd, th, td, h1, h2, .why, .status, .countdown')) {
    if (shown(el) && el.scrollWidth > el.clientWidth + 1) out.push(`${el.tagName}#${el.id}: ${el.textContent.trim().slice(0, 60)}`);
  }
  for (const el of document.querySelectorAll('select')) {
    const option = el.selectedOptions[0];
    if (shown(el) && option && width(el, option.textContent) > inner(el) - 18) out.push(`select#${el.id} (${Math.round(width(el, option.textContent))} in ${inner(el)} at ${window.innerWidth}): ${option.textContent}`);
  }
  for (const el of document.querySelectorAll('input[placeholder], textarea[placeholder]')) {
    if (!shown(el) || el.value) continue;
    const lines = el.tagName === 'TEXTAREA' ? Number(el.rows || 2) : 1;
    if (width(el, el.placeholder) > inner(el) * lines) out.push(`${el.tagName}#${el.id}: ${el.placeholder}`);
  }
  // Nothing may run past the right edge of the page either.
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    const wide = [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.closest('svg'));
    out.push(`page ${document.documentElement.scrollWidth} > ${window.innerWidth}: ${wide.slice(0, 4).map((el) => `${el.tagName}#${el.id}.${el.className}`).join(', ')}`);
  }
  return out;
}"""


def token(seeded: Seeded, username: str) -> str:
    with seeded.client() as http:
        response = http.post("/v1/auth/token", data={
            "grant_type": "password", "username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


def call(seeded: Seeded, bearer: str, method: str, path: str, **kwargs: Any) -> Any:
    """A staff request, asked again when shed under load (503 + Retry-After)."""
    with seeded.client() as http:
        for _ in range(30):
            response = http.request(
                method, path, headers={"Authorization": f"Bearer {bearer}"}, **kwargs)
            if response.status_code != 503:
                break
            time.sleep(1)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def offer_to(seeded: Seeded, alert_id: str, unit: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        routing = seeded.admin("GET", f"/v1/alerts/{alert_id}/routing").json()
        for decision in routing["decisions"]:
            for leg in decision["legs"]:
                if leg["unit_code"] == unit and leg["status"] == "offered":
                    return dict(leg)
        time.sleep(0.3)
    raise AssertionError(f"{alert_id} was never offered to {unit}")


def visible_text(page: Any) -> str:
    return str(page.evaluate("() => document.body.innerText"))


def check_words(page: Any, lang: str) -> None:
    text = visible_text(page)
    for wrong in ("NaN", "undefined", "Failed to fetch", "{"):
        assert wrong not in text, (wrong, text)
    # No "?" standing for a missing value (a question in a sentence ends a word, never alone).
    assert not re.search(r"(^|[\s(:,])\?($|[\s),])", text), text
    assert page.evaluate(CLIPPED_JS) == []
    if lang == "id":
        assert not re.search(r"\d\.\d+ km", text), text  # "6,7 km", never "6.7 km"
        assert "control desk" not in text, text


def test_queue_and_alert_words_at_two_widths_in_two_languages(
    server: tuple[Server, Seeded], browser: Any
) -> None:
    _, seeded = server
    ids, en = catalogue("id"), catalogue("en")
    counselor = Watched(browser, seeded.base)
    counselor.sign_in("konselor.menteng")
    wait_present(seeded, MENTENG, "konselor.menteng")
    # An alert at Blok M on a Transjakarta bus: the control desk is named in the routing; a
    # supervisor reassigns it to the central desk (no distance: it serves the whole region).
    sup_token = token(seeded, "pengawas.pusat")
    open_alert = seeded.press(
        point=BLOK_M, transit={"operator": "transjakarta", "station": "Blok M", "route": "1"})
    call(seeded, sup_token, "POST", f"/v1/alerts/{open_alert['id']}/reassign",
         json={"unit_code": "central", "reason": "korban minta pusat"})
    offer_to(seeded, open_alert["id"], "central")
    # An alert Menteng took and closed: its on-scene deadline closed with it.
    closed = seeded.press()
    leg = offer_to(seeded, closed["id"], MENTENG)
    menteng = token(seeded, "konselor.menteng")
    call(seeded, menteng, "POST", f"/v1/assignments/{leg['id']}/accept")
    call(seeded, menteng, "POST", f"/v1/alerts/{closed['id']}/resolve",
         json={"disposition": "false_alarm"})
    # One more offer waiting in Menteng's queue, with its accept button.
    waiting = seeded.press()
    offer_to(seeded, waiting["id"], MENTENG)

    sup = Watched(browser, seeded.base)
    sup.sign_in("pengawas.pusat")
    for who, page in (("queue", counselor.page), ("alert", sup.page)):
        for lang in ("id", "en"):
            if page.evaluate("() => document.documentElement.lang") != lang:
                page.click("#lang-toggle")
                page.wait_for_function(f"() => document.documentElement.lang === '{lang}'")
            words = catalogue(lang)
            if who == "queue":
                page.goto("/console/")
                page.wait_for_selector(f'.row[data-alert="{waiting["id"]}"] button.accept',
                                       timeout=OFFER_WAIT_MS)
            else:
                page.goto(f"/console/#/alert/{open_alert['id']}")
                page.reload()  # a link to an alert is followed when the console starts
                page.wait_for_selector("#alert-routing li li", timeout=OFFER_WAIT_MS)
                page.wait_for_selector("#alert-clocks li")
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                page.wait_for_timeout(300)  # a relayout, nothing to wait for on the server
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"words-{who}-{width}-{lang}.png"),
                                full_page=True)
                check_words(page, lang)
            if who == "alert":
                routing = page.inner_text("#alert-routing")
                first = words["routing.step_first"].split("{trigger}")[0]
                moved = words["routing.step_reassigned"].split("{unit}")[0]
                assert first in routing and moved in routing, routing
                assert words["routing.reassign_reason"].split("{note}")[0] in routing
                assert "korban minta pusat" in routing
                desk = words["routing.offered_central"].split("; ")[1].split(" (")[0]
                assert desk in routing, routing
                control = words["unit.control_desk"].format(operator="Transjakarta")
                assert control in routing, routing
    assert ids["routing.step_first"] != en["routing.step_first"]

    # The closed alert: on-scene says closed, with no time standing in for a deadline.
    sup.page.goto(f"/console/#/alert/{closed['id']}")
    sup.page.reload()
    on_scene = "#alert-clocks li.clock-closed"
    sup.page.wait_for_selector(on_scene, timeout=OFFER_WAIT_MS)
    for item in sup.page.query_selector_all(on_scene):
        assert not re.search(r"\d{1,2}[:.]\d{2}", item.inner_text()), item.inner_text()
    # Menteng's console read the Blok M alert while it was offered there; once reassigned away,
    # that read answers 404 (the unit no longer has it): expected, not an error of the console.
    for watched in (counselor, sup):
        watched.errors = [e for e in watched.errors if "404" not in e]
    counselor.check_clean()
    sup.check_clean()
    counselor.close()
    sup.close()


def test_numbers_and_days_follow_the_console_language(
    server: tuple[Server, Seeded], browser: Any
) -> None:
    _, seeded = server
    watched = Watched(browser, seeded.base)
    page = watched.page
    page.goto("/")
    page.wait_for_selector("#sign-in")
    said = page.evaluate("""async () => {
      const i18n = await import('/console/js/i18n.js');
      const out = {};
      for (const lang of ['id', 'en']) {
        await i18n.setLanguage(lang);
        out[lang] = [i18n.formatDistance(6700), i18n.formatDistance(180), i18n.formatDay('2026-12-08'), i18n.formatNumber(6.75, 1)];
      }
      await i18n.setLanguage('id');
      return out;
    }""")
    assert said["id"] == ["6,7 km", "180 m", "8 Des", "6,8"]
    assert said["en"] == ["6.7 km", "180 m", "8 Dec", "6.8"]
    watched.check_clean()
    watched.close()


def test_opening_an_alert_with_the_server_unreachable_says_so_in_words(
    server: tuple[Server, Seeded], browser: Any
) -> None:
    _, seeded = server
    alert = seeded.press()  # whoever has it: no request about it reaches the server below
    watched = Watched(browser, seeded.base)
    watched.sign_in("konselor.gambir")
    page = watched.page
    page.route(re.compile(r".*/v1/alerts/.*"), lambda route: route.abort())
    page.goto(f"/console/#/alert/{alert['id']}")
    page.reload()
    page.wait_for_selector("#action-error:not(:empty)", timeout=OFFER_WAIT_MS)
    assert page.inner_text("#action-error") == catalogue("id")["error.network"]
    assert "Failed to fetch" not in visible_text(page)
    watched.close()

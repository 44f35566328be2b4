"""The console under load, in a real browser (headless Debian Chromium, Playwright).

A real server (SQLite file by default; `--pg-admin-url` for a throw-away PostgreSQL database),
`--alerts` active alerts, `--consoles - 1` stream clients signed in as a supervisor (each
receives every event) and one measured browser. Prints:

1. press -> the offer visible in the counselor's browser, p50/p99 over `--presses` presses;
2. the supervisor board: sign-in click -> board shown, and press -> the new alert on the board;
3. the browser's JavaScript heap before and after `--events` events (location updates of one
   alert the page is showing), after a forced garbage collection: bounded means no leak.

    .venv/bin/python loadtests/bench_console.py --quick     # a smoke run, about a minute
    .venv/bin/python loadtests/bench_console.py             # 1,000 alerts, 200 consoles
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from tests.console.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    MENTENG_POINT,
    PASSWORD,
    Seeded,
    create_admin,
    sign_in,
)
from tests.system.server import free_port, start_server  # noqa: E402

GAMBIR_POINT = (-6.170687, 106.819062)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class StreamClients:
    """`count` websockets reading every event, in a thread with its own event loop."""

    def __init__(self, base: str, token: str, count: int) -> None:
        self.url = base.replace("http://", "ws://") + "/v1/stream"
        self.token, self.count = token, count
        self.received = 0
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _one(self, opened: list[int]) -> None:
        async with connect(self.url, origin=None) as ws:
            await ws.send(json.dumps({"type": "auth", "token": self.token}))
            await ws.recv()
            opened.append(1)
            if len(opened) == self.count:
                self.ready.set()
            while not self.stop.is_set():
                try:
                    async with asyncio.timeout(1):
                        await ws.recv()
                    self.received += 1
                except TimeoutError:
                    continue

    async def _run(self) -> None:
        opened: list[int] = []
        await asyncio.gather(*(self._one(opened) for _ in range(self.count)),
                             return_exceptions=True)

    def start(self) -> None:
        self.thread.start()
        if not self.ready.wait(120):
            raise RuntimeError("the stream clients did not all connect")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--consoles", type=int, default=200)
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument(
        "--quick", action="store_true", help="100 alerts, 20 consoles, 10 presses, 500 events"
    )
    options = parser.parse_args()
    if options.quick:
        options.alerts, options.consoles, options.presses, options.events = 100, 20, 10, 500
    print(f"bench_console: {vars(options)}")

    folder = Path(tempfile.mkdtemp(prefix="sigap-bench-console-"))
    url = f"sqlite+aiosqlite:///{folder / 'sigap.db'}"
    port = free_port()
    server = start_server(url, port=port, log=folder / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        create_admin(url)
        seeded = Seeded(base)
        seeded.seed()
        started = time.monotonic()
        for _ in range(options.alerts):
            seeded.press(point=GAMBIR_POINT)
        print(f"seeded {options.alerts} active alerts in {time.monotonic() - started:.1f} s")
        with seeded.client() as http:
            supervisor = sign_in(http, "pengawas.pusat")
        clients = StreamClients(base, supervisor, options.consoles - 1)
        clients.start()
        print(f"{options.consoles - 1} stream clients connected")

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768}, base_url=base)
            page.goto("/")
            page.fill("#username", "konselor.menteng")
            page.fill("#password", PASSWORD)
            page.click("#sign-in")
            page.wait_for_selector("#sign-out")
            time.sleep(3)  # presence reaches the database (flush interval)
            latencies = []
            for _ in range(options.presses):
                t0 = time.monotonic()
                alert = seeded.press(point=MENTENG_POINT)
                page.wait_for_selector(f'li.row[data-case="{alert["case_code"]}"]', timeout=30_000)
                latencies.append(time.monotonic() - t0)
            print(f"press -> offer visible in the browser ({len(latencies)} presses): "
                  f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
                  f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms")

            board = browser.new_page(viewport={"width": 1366, "height": 768}, base_url=base)
            board.goto("/")
            board.fill("#username", "pengawas.pusat")
            board.fill("#password", PASSWORD)
            t0 = time.monotonic()
            board.click("#sign-in")
            board.wait_for_selector("#board-table tbody tr", timeout=60_000)
            print(f"supervisor board: sign-in -> board shown {time.monotonic() - t0:.2f} s "
                  f"({board.locator('#board-table tbody tr').count()} rows shown)")
            t0 = time.monotonic()
            fresh = seeded.press(point=GAMBIR_POINT)
            board.wait_for_selector(f'#board-table tr[data-alert="{fresh["id"]}"]', timeout=60_000)
            print(f"supervisor board: press -> new alert shown {time.monotonic() - t0:.2f} s")
            board.close()

            # Memory: the counselor's page shows one alert while its location keeps changing.
            page.locator(f'li.row[data-case="{alert["case_code"]}"] button.row-open').click()
            page.wait_for_selector("#timeline")
            cdp = page.context.new_cdp_session(page)
            cdp.send("HeapProfiler.collectGarbage")
            before = cdp.send("Runtime.getHeapUsage")["usedSize"]
            credential = alert["_credential"]
            now = datetime.now(UTC)
            with seeded.client() as http:
                for i in range(options.events):
                    lat = MENTENG_POINT[0] + (i % 50) * 1e-5
                    http.post(
                        f"/v1/alerts/{alert['id']}/locations",
                        headers={"Authorization": f"Bearer {credential}"},
                        json={"points": [{"lat": lat, "lon": MENTENG_POINT[1], "accuracy_m": 20,
                                          "fix_at": (now + timedelta(seconds=i)).isoformat()}]},
                    )
            time.sleep(3)
            cdp.send("HeapProfiler.collectGarbage")
            after = cdp.send("Runtime.getHeapUsage")["usedSize"]
            print(f"browser JS heap after GC: {before / 1024:.0f} KiB before, "
                  f"{after / 1024:.0f} KiB after {options.events} location updates "
                  f"({options.consoles - 1} stream clients received {clients.received} messages)")
            browser.close()
        clients.stop.set()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

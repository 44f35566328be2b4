"""A real Sigap server seeded for the console, and headless Debian Chromium driven by Playwright.

The units the browser tests use are made always open and staffed through the public API, so the
tests do not depend on the time of day they run at.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.events import emit
from app.models import Alert
from tests.system.server import REPO, server_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = REPO / "test-artifacts" / "console"
PASSWORD = "console-test-password"
MENTENG, GAMBIR = "3173020", "3173080"
MENTENG_POINT = (-6.199394, 106.841482)
CATALOGUES = REPO / "app" / "console" / "static" / "i18n"
ALWAYS_OPEN = {"always_open": True, "closed_on_holidays": False, "weekly": {}}
STAFF = {
    "konselor.menteng": ("counselor", MENTENG),
    "konselor.gambir": ("counselor", GAMBIR),
    "petugas.tj": ("transit_staff", "transjakarta"),
    "pengawas.pusat": ("supervisor", "central"),
}


def catalogue(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((CATALOGUES / f"{lang}.json").read_text())
    return data


def hand_to_112(database_url: str, alert_id: str, *, ago: timedelta) -> None:
    """The ladder's hand-off to Jakarta Siaga 112 (``app.dispatch.ladder.transfer``), written into
    the running server's database as if it happened ``ago``: the ladder gets there only after
    every post and the central desk stayed silent for minutes."""

    async def write() -> None:
        engine = create_engine(Settings(database_url=database_url, dev=True), pool_size=1)
        try:
            async with create_sessionmaker(engine)() as session:
                alert = await session.get(Alert, uuid.UUID(alert_id))
                assert alert is not None
                at = datetime.now(UTC) - ago
                alert.transferred_at = at
                data = {"to": "112", "reason": "central desk unanswered"}
                emit(session, "alert.transferred", at=at, alert_id=alert.id,
                     data=data | {"case_code": alert.case_code})
                await session.commit()
        finally:
            await engine.dispose()

    # Not on this thread: Playwright's sync API keeps an event loop here.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, write()).result()


def create_admin(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "app.cli", "user", "create", "admin", "--role", "admin",
         "--unit", "central"],
        input=PASSWORD + "\n",
        text=True,
        check=True,
        cwd=REPO,
        env=server_env(database_url),
        capture_output=True,
    )


@dataclass
class Seeded:
    base: str
    admin_token: str = ""
    devices: list[str] = field(default_factory=list)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30)

    def seed(self) -> None:
        with self.client() as http:
            self.admin_token = sign_in(http, "admin")
        now = datetime.now(UTC)
        # Through ``admin``: administration is shed first under load, and retried.
        for username, (role, unit) in STAFF.items():
            created = self.admin(
                "POST",
                "/v1/users",
                json={"username": username, "password": PASSWORD, "role": role,
                      "unit_code": unit, "display_name": username.replace(".", " ").title()},
            )
            assert created.status_code == 201, created.text
            shift = self.admin(
                "POST",
                f"/v1/units/{unit}/shifts",
                json={"username": username,
                      "starts_at": (now - timedelta(hours=1)).isoformat(),
                      "ends_at": (now + timedelta(hours=23)).isoformat()},
            )
            assert shift.status_code == 201, shift.text
        for code in (MENTENG, GAMBIR):
            patched = self.admin("PATCH", f"/v1/units/{code}", json={"hours": ALWAYS_OPEN})
            assert patched.status_code == 200, patched.text

    def press(self, *, point: tuple[float, float] = MENTENG_POINT, **extra: Any) -> dict[str, Any]:
        with self.client() as http:
            credential = http.post("/v1/devices", json={}).json()["credential"]
            response = http.post(
                "/v1/alerts",
                headers={"Authorization": f"Bearer {credential}",
                         "Idempotency-Key": str(uuid.uuid4())},
                json={"pressed_at": datetime.now(UTC).isoformat(),
                      "location": {"lat": point[0], "lon": point[1], "accuracy_m": 20},
                      **extra},
            )
            assert response.status_code == 201, response.text
            body: dict[str, Any] = response.json()
            body["_credential"] = credential  # for location updates (benchmarks)
            return body

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """An admin's request, retried as a client should when it is shed under load (administration
        is shed first, 503 + Retry-After, whenever the pool is busy: a loaded test machine is enough
        to make the console's own requests and the loops fill it for a moment)."""
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        with self.client() as http:
            for _ in range(30):
                response = http.request(method, path, headers=headers, **kwargs)
                if response.status_code != 503:
                    break
                time.sleep(min(float(response.headers.get("retry-after", "1")), 1.0))
            return response


def sign_in(http: httpx.Client, username: str) -> str:
    response = http.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


class Gateway:
    """A tiny local SMS/WhatsApp gateway for the ``http`` notifier: records what it is sent."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout_s: float = 20
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in list(self.messages):
                if match(message):
                    return message
            time.sleep(0.2)
        raise AssertionError(f"no such message; the gateway got {self.messages}")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

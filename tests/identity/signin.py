"""Steps shared by the sign-in tests: a client from a chosen network, hashers that count or
hold their jobs, and a password attempt."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, TypeVar

import httpx

from app.context import AppContext
from app.main import create_app
from app.security.hashing import SecretHasher
from tests.conftest import make_settings

POST_NETWORK = "203.0.113.7"  # the conftest client's address: the post's NAT
ATTACKER = "198.51.100.23"
ELSEWHERE = "192.0.2.44"
_T = TypeVar("_T")


def with_security(context: AppContext, **security: Any) -> AppContext:
    """The context with some security settings changed (the database stays the same)."""
    settings = make_settings(context.settings.database_url, security=security)
    return replace(context, settings=settings)


@asynccontextmanager
async def client_from(context: AppContext, host: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(context=context, run_loops=False)
    transport = httpx.ASGITransport(app=app, client=(host, 41000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sigap.test") as http:
        yield http


async def attempt(
    client: httpx.AsyncClient,
    username: str,
    password: str,
    *,
    device: str | None = None,
    unlock_code: str | None = None,
) -> httpx.Response:
    """A password grant, as an app sends it: with its device token (the form field) and a
    supervisor's unlock code if it has them."""
    data = {"grant_type": "password", "username": username, "password": password}
    if device is not None:
        data["device_token"] = device
    if unlock_code is not None:
        data["unlock_code"] = unlock_code
    return await client.post("/v1/auth/token", data=data)


class CountingHasher(SecretHasher):
    """Counts the argon2 verifications and the thread-pool jobs they ran in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verifications = 0
        self.jobs = 0

    def verify_blocking(self, stored: str | None, secret: str) -> bool:
        self.verifications += 1
        return super().verify_blocking(stored, secret)

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        self.jobs += 1
        return await super()._run(fn, *args)


class GatedHasher(SecretHasher):
    """Verifications that do not finish until the test opens the gate: hashing threads busy
    for as long as the test likes. Run on the event loop, one would hang the test."""

    def __init__(self, *args: Any, busy_at: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.busy = asyncio.Event()
        """Set once ``busy_at`` verifications are running (held at the gate)."""
        self.running = 0
        self._busy_at = busy_at
        self._lock = threading.Lock()
        self._loop = asyncio.get_running_loop()

    def verify_blocking(self, stored: str | None, secret: str) -> bool:
        with self._lock:
            self.running += 1
            if self.running == self._busy_at:
                self._loop.call_soon_threadsafe(self.busy.set)
        self.gate.wait(timeout=120)  # a failing test must not leave threads behind for ever
        return super().verify_blocking(stored, secret)

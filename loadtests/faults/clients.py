"""The clients of a run: phones pressing open-loop with the app's retries, and staff sockets
that resume after every disconnect with ``after``/``epoch`` (docs/stream.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from loadtests.faults.history import History, Operation
from loadtests.openloop import TRANSPORT_ERROR, PreparedRequest, RawClient

BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 3.0


def backoff_s(attempt: int, retry_after: str | None, rng: random.Random) -> float:
    """The app's retry: exponential with full jitter over the upper half, at least Retry-After."""
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt) * rng.uniform(0.5, 1.0)
    if retry_after and retry_after.isdigit():
        delay = max(delay, min(float(retry_after), BACKOFF_CAP_S))
    return delay


class Phones:
    """Operation *i* is due at ``t0 + i / rate`` whatever happened to the others (open loop);
    each one is a new press from its own phone, retried with the same Idempotency-Key until it
    gets a 2xx or ``give_up_s`` has passed since it was due."""

    def __init__(
        self,
        base_url: str,
        credentials: list[str],
        locations: list[tuple[float, float]],
        history: History,
        *,
        rate: float,
        attempt_timeout_s: float = 10.0,
        give_up_s: float = 60.0,
        seed: int = 1,
    ) -> None:
        self.base_url = base_url
        self.credentials = credentials
        self.locations = locations
        self.history = history
        self.rate = rate
        self.attempt_timeout_s = attempt_timeout_s
        self.give_up_s = give_up_s
        self.rng = random.Random(seed)
        self.last_ok_at = 0.0

    async def run(self, duration_s: float) -> None:
        count = min(len(self.credentials), int(duration_s * self.rate))
        loop = asyncio.get_running_loop()
        # The raw client, not httpx: httpx's pool rescans every queued request against every
        # connection on each event, so once a fault queues a few hundred presses the harness
        # itself spent a whole core there and starved the fault proxy it also runs, which made
        # a short fault look like a long outage of Sigap. Phones have their own connections.
        host, _, port = self.base_url.removeprefix("http://").partition(":")
        client = RawClient(host, int(port), limit=4096, timeout_s=self.attempt_timeout_s)
        try:
            start = loop.time()
            tasks = []
            for index in range(count):
                due = start + index / self.rate
                await asyncio.sleep(max(0.0, due - loop.time()))
                op = Operation(index, uuid.uuid4().hex, index, due)
                self.history.operations.append(op)
                tasks.append(asyncio.create_task(self._operation(client, op)))
            await asyncio.gather(*tasks)
        finally:
            await client.close()

    async def _operation(self, client: RawClient, op: Operation) -> None:
        loop = asyncio.get_running_loop()
        lat, lon = self.locations[op.index % len(self.locations)]
        body = {
            "pressed_at": datetime.now(UTC).isoformat(),
            "location": {"lat": lat, "lon": lon, "accuracy_m": 15},
        }
        request = client.prepare(
            PreparedRequest(
                "/v1/alerts",
                (
                    ("Authorization", f"Bearer {self.credentials[op.device]}"),
                    ("Idempotency-Key", op.key),
                    ("Content-Type", "application/json"),
                ),
                json.dumps(body).encode(),
            )
        )
        while True:
            op.attempts += 1
            reply = await client.send(request)
            retry_after = reply.retry_after
            if reply.status == TRANSPORT_ERROR:
                op.indefinite += 1
                op.answers.append(reply.error or "transport")
            else:
                op.answers.append(str(reply.status))
                if reply.status in (200, 201) and reply.location:
                    now = loop.time()
                    op.alert_id = reply.location.rstrip("/").rsplit("/", 1)[1]
                    op.ids_seen.add(op.alert_id)
                    op.outcome, op.finished_at = "ok", now
                    self.history.successes.append(now)
                    self.last_ok_at = now
                    return
                if reply.status >= 500 and reply.status != 503:
                    op.indefinite += 1  # a crash after the commit cannot be ruled out
            if loop.time() - op.due > self.give_up_s:
                op.outcome = "unknown" if op.indefinite else "failed"
                op.finished_at = loop.time()
                return
            await asyncio.sleep(backoff_s(op.attempts - 1, retry_after, self.rng))


class Follower:
    """One staff console's socket: connects, authenticates with ``after``/``epoch`` once it has
    seen something, records every event's ``seq``, and reconnects after every disconnect."""

    def __init__(
        self,
        name: str,
        ws_url: str,
        sign_in: Callable[[], Awaitable[str]],
        *,
        unit_code: str,
        sees_everything: bool,
    ) -> None:
        self.name = name
        self.ws_url = ws_url
        self.sign_in = sign_in
        self.unit_code = unit_code
        self.sees_everything = sees_everything
        self.token: str | None = None
        self.first_head: int | None = None
        self.last_seq: int | None = None
        self.epoch: str | None = None
        self.received: dict[int, str] = {}
        self.out_of_order = 0
        self.connections = 0
        self.resyncs: list[tuple[int, int]] = []
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        rng = random.Random(self.name)
        while not stop.is_set():
            session = asyncio.create_task(self._session())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({session, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not session.done():
                session.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await session
            if not stop.is_set():
                await asyncio.sleep(rng.uniform(0.2, 0.8))

    async def _session(self) -> None:
        try:
            if self.token is None:
                self.token = await self.sign_in()
            async with connect(self.ws_url, open_timeout=10, max_queue=None) as ws:
                auth: dict[str, object] = {"type": "auth", "token": self.token}
                if self.last_seq is not None:
                    auth |= {"after": self.last_seq, "epoch": self.epoch}
                await ws.send(json.dumps(auth))
                async with asyncio.timeout(15):
                    ready = json.loads(await ws.recv())
                if ready.get("type") != "ready":
                    return
                self.connections += 1
                self.epoch = ready["epoch"]
                if self.last_seq is None:
                    self.first_head = self.last_seq = int(ready["head_seq"])
                self.ready.set()
                async for raw in ws:
                    self._handle(json.loads(raw))
        except ConnectionClosed as closed:
            if closed.rcvd is not None and closed.rcvd.code in (4003, 4008):
                self.token = None  # sign in again next time
        except (OSError, TimeoutError, httpx.HTTPError, KeyError, ValueError):
            pass  # the fault this harness causes: reconnect
        except Exception:  # websockets' handshake errors (a 5xx while the server restarts)
            pass

    def _handle(self, message: dict[str, object]) -> None:
        kind = message.get("type")
        if kind == "event":
            seq = int(str(message["seq"]))
            if self.last_seq is not None and seq <= self.last_seq:
                self.out_of_order += 1
            self.received[seq] = str(message.get("event"))
            self.last_seq = max(seq, self.last_seq or 0)
        elif kind == "resync_required":
            head = int(str(message["head_seq"]))
            self.resyncs.append((self.last_seq or 0, head))
            self.last_seq = head


async def staff_token(base_url: str, username: str, password: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

"""Open-loop HTTP load generation: a fixed arrival rate, latency counted from the scheduled time.

Request *i* of a run is due at ``t0 + i / rate`` whatever happened to the earlier ones (no
coordinated omission): a slow server makes requests queue, and the queueing shows in their
latency because every latency is measured from the request's scheduled time, not from when it
was actually written to a socket. If the generator itself falls behind, the lateness is reported
(``lag_max_ms``) and is also included in the latencies.

Two clients share one interface:

* ``RawClient`` (default): plain HTTP/1.1 keep-alive over asyncio streams. It writes pre-built
  request bytes and reads the status line, the headers it needs and the body. It costs a few
  tens of microseconds of CPU per request, so the generator stays small next to the servers.
* ``HttpxClient``: ``httpx.AsyncClient`` with a connection pool, for comparison. It costs several
  times more CPU per request, which matters on a small machine where it competes with the server.

Both cap the number of open connections; a request that finds them all busy waits for one, and
that wait is part of its latency.
"""

from __future__ import annotations

import asyncio
import gc
import math
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import httpx

TRANSPORT_ERROR = 0
"""The ``status`` of a request that got no HTTP response (refused, reset, timed out)."""


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """One request, built before the run so that building costs nothing during it."""

    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def wire(self, host_header: str) -> bytes:
        lines = [f"POST {self.path} HTTP/1.1", f"Host: {host_header}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    location: str | None
    error: str | None = None
    retry_after: str | None = None


class Client(Protocol):
    name: str

    def prepare(self, request: PreparedRequest) -> object:
        """Turn a request into whatever ``send`` takes (pre-encoded bytes for the raw client)."""
        ...

    async def send(self, prepared: object) -> Reply: ...

    async def close(self) -> None: ...


_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class RawClient:
    """HTTP/1.1 keep-alive over asyncio streams, at most ``limit`` connections."""

    name = "raw"

    def __init__(self, host: str, port: int, *, limit: int, timeout_s: float) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._slots = asyncio.Semaphore(limit)
        self._idle: list[_Connection] = []
        self._host_header = f"{host}:{port}"

    def prepare(self, request: PreparedRequest) -> object:
        return request.wire(self._host_header)

    async def send(self, prepared: object) -> Reply:
        assert isinstance(prepared, bytes)
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self._slots:
                    return await self._exchange(prepared)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            return Reply(TRANSPORT_ERROR, None, type(exc).__name__)

    async def _exchange(self, data: bytes) -> Reply:
        reused = self._take_idle()
        if reused is not None:
            try:
                return await self._exchange_on(reused, data)
            except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as exc:
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
                # The server closed this idle connection as we reused it: it never saw the
                # request, so sending it again on a fresh connection is safe.
        return await self._exchange_on(await self._connect(), data)

    async def _exchange_on(self, connection: _Connection, data: bytes) -> Reply:
        reader, writer = connection
        try:
            writer.write(data)
            reply, keep_alive = await _read_response(reader)
        except BaseException:
            writer.close()
            raise
        if keep_alive:
            self._idle.append(connection)
        else:
            writer.close()
        return reply

    def _take_idle(self) -> _Connection | None:
        """The most recently used idle connection the server has not closed (keep-alive)."""
        while self._idle:
            reader, writer = self._idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    async def _connect(self) -> _Connection:
        return await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        while self._idle:
            _reader, writer = self._idle.pop()
            writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[Reply, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].split(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length: int | None = None
    chunked, keep_alive, location, retry_after = False, True, None, None
    for line in header_lines:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep_alive = value.lower() != b"close"
        elif name == b"location":
            location = value.decode("latin-1")
        elif name == b"retry-after":
            retry_after = value.decode("latin-1")
    if chunked:
        await _skip_chunked(reader)
    elif length is not None:
        await reader.readexactly(length)
    else:
        await reader.read()  # body delimited by the end of the connection
        keep_alive = False
    return Reply(status, location, retry_after=retry_after), keep_alive


async def _skip_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return


class HttpxClient:
    """``httpx.AsyncClient`` with a pool of at most ``limit`` keep-alive connections."""

    name = "httpx"

    def __init__(self, host: str, port: int, *, limit: int, timeout_s: float) -> None:
        self._client = httpx.AsyncClient(
            base_url=f"http://{host}:{port}",
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
            # The pool wait is part of the budget, as with the raw client.
            timeout=httpx.Timeout(timeout_s, pool=timeout_s),
        )

    def prepare(self, request: PreparedRequest) -> object:
        return request

    async def send(self, prepared: object) -> Reply:
        assert isinstance(prepared, PreparedRequest)
        try:
            response = await self._client.post(
                prepared.path, content=prepared.body, headers=dict(prepared.headers)
            )
        except httpx.HTTPError as exc:
            return Reply(TRANSPORT_ERROR, None, type(exc).__name__)
        return Reply(response.status_code, response.headers.get("location"))

    async def close(self) -> None:
        await self._client.aclose()


def make_client(kind: str, host: str, port: int, *, limit: int, timeout_s: float) -> Client:
    if kind == "raw":
        return RawClient(host, port, limit=limit, timeout_s=timeout_s)
    if kind == "httpx":
        return HttpxClient(host, port, limit=limit, timeout_s=timeout_s)
    raise ValueError(f"unknown client {kind!r} (raw or httpx)")


@dataclass(slots=True)
class Outcome:
    status: int
    latency_s: float
    done_at: float
    location: str | None
    error: str | None


@dataclass
class RunResult:
    """Everything one open-loop run observed; ``StepStats.of`` turns it into figures."""

    rate: float
    started_at: float
    outcomes: list[Outcome]
    lag_max_s: float


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection during a run: a full collection over the run's many
    objects would stall the generator for tens of milliseconds and show up as latency."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def run_open_loop(client: Client, requests: Sequence[object], rate: float) -> RunResult:
    """Send ``requests`` (already prepared for ``client``) at ``rate`` per second, open loop."""
    with paused_gc():
        return await _run_open_loop(client, requests, rate)


async def _run_open_loop(client: Client, requests: Sequence[object], rate: float) -> RunResult:
    loop = asyncio.get_running_loop()
    clock = time.perf_counter  # loop.time() is cached per iteration, to 1 ms under uvloop
    outcomes: list[Outcome | None] = [None] * len(requests)

    async def one(index: int, due: float) -> None:
        reply = await client.send(requests[index])
        done = clock()
        outcomes[index] = Outcome(reply.status, done - due, done, reply.location, reply.error)

    tasks: list[asyncio.Task[None]] = []
    lag_max = 0.0
    start = clock() + 0.01
    for index in range(len(requests)):
        due = start + index / rate
        now = clock()
        if due > now:
            await asyncio.sleep(due - now)
            now = clock()
        lag_max = max(lag_max, now - due)
        tasks.append(loop.create_task(one(index, due)))
    await asyncio.gather(*tasks)
    done_outcomes = [o for o in outcomes if o is not None]
    return RunResult(rate=rate, started_at=start, outcomes=done_outcomes, lag_max_s=lag_max)


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending sequence (0.0 when it is empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class StepStats:
    """Figures of one step. Latencies cover every scheduled request, whatever its outcome."""

    offered: float
    sent: int
    ok: int
    errors: int
    achieved: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    lag_max_ms: float
    statuses: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, run: RunResult, *, duration_s: float) -> StepStats:
        outcomes = run.outcomes
        ok = [o for o in outcomes if 200 <= o.status < 300]
        latencies = sorted(o.latency_s * 1000 for o in outcomes)
        last_done = max((o.done_at for o in ok), default=run.started_at)
        span = max(duration_s, last_done - run.started_at)
        return cls(
            offered=run.rate,
            sent=len(outcomes),
            ok=len(ok),
            errors=len(outcomes) - len(ok),
            achieved=len(ok) / span,
            p50_ms=percentile(latencies, 0.50),
            p90_ms=percentile(latencies, 0.90),
            p99_ms=percentile(latencies, 0.99),
            max_ms=latencies[-1] if latencies else 0.0,
            lag_max_ms=run.lag_max_s * 1000,
            statuses=Counter(
                str(o.status) if o.status != TRANSPORT_ERROR else f"transport:{o.error}"
                for o in outcomes
            ),
        )

    def passes(self, *, p99_limit_ms: float, min_achieved_fraction: float) -> bool:
        return (
            self.errors == 0
            and self.p99_ms < p99_limit_ms
            and self.achieved >= min_achieved_fraction * self.offered
        )

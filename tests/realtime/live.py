"""A real uvicorn server in the test's event loop (so the websocket is a real socket), sharing the
test's context, database and frozen clock; and a small websocket client for the protocol."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.context import AppContext
from app.main import create_app
from app.models import OutboxEvent
from app.realtime.hub import Hub
from app.realtime.relay import sequence_pending


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Live:
    base: str
    hub: Hub


@contextlib.asynccontextmanager
async def live_server(context: AppContext, *, log_level: str = "warning") -> AsyncIterator[Live]:
    """Serve the app (relay, hub, presence; no dispatcher loop) on a free port. Logging is left
    to pytest (no uvicorn log config), so ``caplog`` sees uvicorn's lines."""
    app = create_app(context=context, run_loops=False, realtime=True)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level=log_level,
            log_config=None,
            ws="websockets-sansio",
            # A socket or task that does not end must not hang the test run at shutdown.
            timeout_graceful_shutdown=5,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield Live(base=f"ws://127.0.0.1:{port}", hub=app.state.hub)
    finally:
        server.should_exit = True
        await task


async def settle(context: AppContext, timeout_s: float = 30.0) -> int:
    """Number every committed event and return the head. A server's relay may be numbering a
    batch at the same time (on PostgreSQL it then holds the lock and this call numbers nothing),
    so the wait is for no unnumbered event to be left, not for one call to find none."""
    async with asyncio.timeout(timeout_s):
        while True:
            await sequence_pending(context)
            async with context.sessions() as session:
                unnumbered = await session.scalar(
                    select(func.count()).where(OutboxEvent.seq.is_(None))
                )
                head = await session.scalar(select(func.max(OutboxEvent.seq)))
            if not unnumbered:
                return int(head or 0)
            await asyncio.sleep(0.01)


async def settled(context: AppContext, live: Live, timeout_s: float = 30.0) -> None:
    """Wait until the relay numbered every committed event and every socket's sender went past
    the last one (no guess at how long that takes; a bound only against a hang)."""
    async with asyncio.timeout(timeout_s):
        while True:
            async with context.sessions() as session:
                unnumbered = await session.scalar(
                    select(func.count()).where(OutboxEvent.seq.is_(None))
                )
                head = await session.scalar(select(func.max(OutboxEvent.seq)))
            if (
                not unnumbered
                and head is not None
                and live.hub.head >= head
                and all(reader.cursor >= head for reader in live.hub.readers)
            ):
                return
            context.outbox_wakeup.set()
            await asyncio.sleep(0.01)


class StreamClient:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.ready: dict[str, Any] = {}

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, wait_s: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(wait_s):
            raw = await self.connection.recv()
        message: dict[str, Any] = json.loads(raw)
        return message

    async def events(self, count: int, wait_s: float = 5.0) -> list[dict[str, Any]]:
        """The next ``count`` event messages (skipping pongs)."""
        out: list[dict[str, Any]] = []
        while len(out) < count:
            message = await self.receive(wait_s)
            if message["type"] == "event":
                out.append(message)
        return out

    async def sent(self, wait_s: float = 10.0) -> list[dict[str, Any]]:
        """Everything the server sent before it read our ping: it answers on the same ordered
        connection, after what it already sent (once ``settled``, every event for us)."""
        await self.send({"type": "ping"})
        out: list[dict[str, Any]] = []
        while (message := await self.receive(wait_s))["type"] != "pong":
            out.append(message)
        return out

    async def quiet(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Whatever arrives within ``seconds`` (to prove nothing does)."""
        out: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):
            while True:
                out.append(await self.receive(seconds))
        return out

    async def closed_with(self, wait_s: float = 5.0) -> tuple[int | None, list[str]]:
        """Wait for the server to close; returns (close code, messages received meanwhile)."""
        received: list[str] = []
        try:
            while True:
                async with asyncio.timeout(wait_s):
                    received.append(str(await self.connection.recv()))
        except ConnectionClosed as closed:
            return (closed.rcvd.code if closed.rcvd else None), received

    async def close(self) -> None:
        await self.connection.close()


@contextlib.asynccontextmanager
async def stream(
    base: str,
    token: str | None = None,
    *,
    after: int | None = None,
    epoch: str | None = None,
    path: str = "/v1/stream",
    origin: str | None = None,
    expect_ready: bool = True,
) -> AsyncIterator[StreamClient]:
    headers = {"Origin": origin} if origin else None
    async with connect(base + path, additional_headers=headers, open_timeout=5) as connection:
        client = StreamClient(connection)
        if token is not None:
            auth: dict[str, Any] = {"type": "auth", "token": token}
            if after is not None:
                auth["after"] = after
            if epoch is not None:
                auth["epoch"] = epoch
            with contextlib.suppress(ConnectionClosed):  # a server that refused at once
                await client.send(auth)
            if expect_ready:
                ready = await client.receive()
                assert ready["type"] == "ready", ready
                client.ready = ready
        yield client

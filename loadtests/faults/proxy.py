"""An asyncio TCP proxy between Sigap and PostgreSQL that can slow, reset or swallow traffic.

tc/netem is not available on these machines, so faults on the network path are made here:

* ``latency_s``: every chunk is held this long before it is forwarded (both directions);
* ``reset()``: every open connection is aborted at once (RST), new ones are accepted;
* ``blackhole(True)``: nothing is forwarded and new connections hang before reaching
  PostgreSQL, as a partition does while TCP keeps retransmitting; ``blackhole(False)`` heals it
  and what was held flows again (TCP's retransmissions succeeding);
* ``stop()``: new connections are refused and open ones reset, like a database host going away;
  ``start()`` again listens on the same port (the host is back).

The harness and the outage tests (``tests/system/test_outage.py``) share this one proxy.
"""

from __future__ import annotations

import asyncio
import contextlib


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.latency_s = 0.0
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen (on the port of an earlier start, if any, so clients find it again)."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and reset the open ones."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self._flowing.set()
        self.reset()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            # After the resets: from Python 3.12 on, this waits for every connection to end.
            await server.wait_closed()

    def reset(self) -> int:
        """Abort every open connection; returns how many were cut."""
        cut = len(self._writers)
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        return cut

    def blackhole(self, on: bool) -> None:
        if on:
            self._flowing.clear()
        else:
            self._flowing.set()

    @property
    def connections(self) -> int:
        return len(self._writers) // 2

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._flowing.wait()  # a partitioned host's SYN goes unanswered
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.transport.abort()
            self._writers.discard(writer)

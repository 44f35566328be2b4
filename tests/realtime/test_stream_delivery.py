"""Delivery on /v1/stream: live events in commit order, resume without gaps or duplicates,
explicit resync, the late-commit trap, and a slow socket that cannot hold up the others."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import FrozenClock
from app.context import AppContext
from app.events import INTERNAL_EVENTS, emit
from app.models import OutboxEvent
from tests.conftest import BACKEND
from tests.dispatch.staffing import drain, on_duty
from tests.helpers import press, press_body, register, staff_token
from tests.realtime.live import live_server, settle, stream

KB = "3171060"


async def new_alert(client: httpx.AsyncClient, context: AppContext) -> str:
    _, credential = await register(client)
    response = await press(client, credential, press_body(context))
    assert response.status_code == 201
    await drain(context)
    return str(response.json()["id"])


async def outbox(context: AppContext) -> list[OutboxEvent]:
    async with context.sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.seq.is_not(None)).order_by(OutboxEvent.seq)
        )
        return list(rows.all())


async def test_a_supervisor_gets_every_event_live_in_commit_order(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await on_duty(context, "konselor.kb", KB)
    token = await staff_token(client, context, "supervisor", "supervisor", "central")
    async with live_server(context) as live, stream(live.base, token) as ws:
        head = ws.ready["head_seq"]
        assert ws.ready["epoch"]
        await new_alert(client, context)
        received = await ws.events(3)
    # Signals between processes (a console closing) are never sent: not for anyone.
    stored = [
        e for e in await outbox(context) if e.seq > head and e.event_type not in INTERNAL_EVENTS
    ]
    assert [(m["seq"], m["event"]) for m in received] == [(e.seq, e.event_type) for e in stored]
    assert [m["event"] for m in received] == [
        "alert.received",
        "alert.routed",
        "assignment.offered",
    ]
    assert received[2]["data"]["unit_code"] == KB
    assert received[0]["at"].endswith("Z")


async def test_resume_after_a_disconnect_gets_every_missed_event_once_in_order(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await on_duty(context, "konselor.kb", KB)
    token = await staff_token(client, context, "supervisor", "supervisor", "central")
    async with live_server(context) as live:
        async with stream(live.base, token) as ws:
            await new_alert(client, context)
            seen = await ws.events(3)
        last = seen[-1]["seq"]
        await new_alert(client, context)  # while disconnected
        await new_alert(client, context)
        head = await settle(context)
        closing = [
            e for e in await outbox(context) if e.event_type in INTERNAL_EVENTS and e.seq <= head
        ]
        async with stream(live.base, token, after=last, epoch=ws.ready["epoch"]) as ws2:
            missed = await ws2.events(head - last - len(closing))
            await new_alert(client, context)  # and live again afterwards
            live_events = await ws2.events(3)
            assert await ws2.quiet(0.2) == []
    seqs = [m["seq"] for m in missed + live_events]
    sent = [  # everything but the signals between processes (the first socket's clean close)
        e.seq for e in await outbox(context) if e.seq > last and e.event_type not in INTERNAL_EVENTS
    ]
    assert seqs == sent  # no gap, no duplicate


async def test_a_stale_epoch_or_a_position_beyond_the_window_gets_resync_required(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    token = await staff_token(client, context, "supervisor", "supervisor", "central")
    async with live_server(context) as live:
        await new_alert(client, context)
        head = await settle(context)
        async with stream(live.base, token, after=head - 1, epoch="another-epoch") as ws:
            assert await ws.receive() == {"type": "resync_required", "head_seq": head}
            await new_alert(client, context)  # the socket stays open with live events
            assert (await ws.events(1))[0]["seq"] == head + 1
        clock.advance(73 * 3600)  # the replay window is 72 h
        token = await staff_token(client, context, "supervisor2", "supervisor", "central")
        head = await settle(context)
        async with stream(live.base, token, after=1, epoch=ws.ready["epoch"]) as ws:
            assert await ws.receive() == {"type": "resync_required", "head_seq": head}


@pytest.mark.skipif(
    BACKEND != "postgresql",
    reason="SQLite has one writer at a time, so two transactions cannot commit out of order",
)
async def test_the_late_commit_trap_cannot_skip_an_event(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """Transaction A takes its outbox id first and commits last; B commits in between and is
    numbered first. A reader resuming after B's position still gets A."""
    now = context.clock.now()
    async with context.sessions() as slow, context.sessions() as fast:
        slow_event = emit(slow, "test.slow", at=now)
        await slow.flush()  # A's id is taken now ...
        fast_event = emit(fast, "test.fast", at=now)
        await fast.commit()  # ... B commits first
        assert fast_event.id > slow_event.id
        await settle(context)
        await slow.commit()  # A becomes visible only now
    await settle(context)
    by_type = {e.event_type: e for e in await outbox(context)}
    fast_seq, slow_seq = by_type["test.fast"].seq, by_type["test.slow"].seq
    assert fast_seq is not None and slow_seq == fast_seq + 1
    # The naive reader, resuming by id after B, would have skipped A:
    assert by_type["test.slow"].id < by_type["test.fast"].id
    token = await staff_token(client, context, "supervisor", "supervisor", "central")
    async with live_server(context) as live, stream(live.base, token, after=fast_seq) as ws:
        [event] = await ws.events(1)
    assert (event["seq"], event["event"]) == (slow_seq, "test.slow")


async def _insert_events(session: AsyncSession, count: int, at: Any) -> None:
    for n in range(count):
        emit(session, "test.bulk", at=at, data={"n": n, "padding": "x" * 4000})
    await session.commit()


def stuck_socket(port: int, token: str) -> socket.socket:
    """A websocket client that authenticates and then never reads, with a tiny receive buffer:
    written by hand, because a client library would keep reading in the background."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        (
            f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += raw.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    payload = json.dumps({"type": "auth", "token": token}).encode()
    mask = os.urandom(4)
    header = bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(payload))
    raw.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return raw


async def test_a_socket_that_never_reads_is_closed_and_does_not_hold_up_the_others(
    client: httpx.AsyncClient, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context.settings.realtime, "backlog_events", 64)
    # Real-time limits with room for a busy machine: the healthy reader shares this event loop
    # and must never be the one that misses them; the stuck one misses them by any margin.
    monkeypatch.setattr(context.settings.realtime, "burst_grace_s", 2.0)
    monkeypatch.setattr(context.settings.realtime, "send_timeout_s", 3.0)
    token = await staff_token(client, context, "supervisor", "supervisor", "central")
    count = 1500  # about 6 MB: more than the kernel buffers for a reader that never reads
    async with live_server(context) as live:
        port = int(live.base.rsplit(":", 1)[1])
        stuck = await asyncio.to_thread(stuck_socket, port, token)
        try:
            async with stream(live.base, token) as ws:
                for _ in range(100):
                    if live.hub.sockets == 2:
                        break
                    await asyncio.sleep(0.02)
                assert live.hub.sockets == 2
                async with context.sessions() as session:
                    await _insert_events(session, count, context.clock.now())
                received = await ws.events(count, wait_s=20)
                assert [m["data"]["n"] for m in received] == list(range(count))
                for _ in range(100):
                    if live.hub.sockets == 1:
                        break
                    await asyncio.sleep(0.1)
                assert live.hub.sockets == 1  # the socket that never read was let go
        finally:
            stuck.close()


async def test_events_of_an_unrelated_kind_reach_only_province_wide_roles(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    counselor = await staff_token(client, context, "konselor", "counselor", KB)
    supervisor = await staff_token(client, context, "supervisor", "supervisor", "central")
    async with (
        live_server(context) as live,
        stream(live.base, counselor) as ws_c,
        stream(live.base, supervisor) as ws_s,
    ):
        async with context.sessions() as session:
            emit(session, "test.unrelated", at=context.clock.now(), alert_id=uuid.uuid4())
            await session.commit()
        assert (await ws_s.events(1))[0]["event"] == "test.unrelated"
        assert await ws_c.quiet(0.3) == []

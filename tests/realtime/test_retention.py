"""Outbox retention keeps what an open alert still needs, and a phone's replay reads only its
own alerts' events."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.clock import FrozenClock
from app.context import AppContext
from app.events import emit
from app.ingestion.retention import purge_outbox
from app.models import Alert, OutboxEvent
from app.realtime import hub as hub_module
from app.realtime import window
from app.realtime.device_stream import replay_device
from app.realtime.scopes import Audience
from tests.dispatch.staffing import drain, on_duty
from tests.helpers import press, press_body, register
from tests.realtime.live import settle

KB = "3171060"


async def alert_of(client: httpx.AsyncClient, context: AppContext) -> tuple[uuid.UUID, str]:
    _, credential = await register(client)
    response = await press(client, credential, press_body(context))
    return uuid.UUID(response.json()["id"]), credential


async def kept(context: AppContext) -> dict[str, list[uuid.UUID | None]]:
    async with context.sessions() as session:
        rows = (await session.execute(select(OutboxEvent.event_type, OutboxEvent.alert_id))).all()
    out: dict[str, list[uuid.UUID | None]] = {}
    for event_type, alert_id in rows:
        out.setdefault(event_type, []).append(alert_id)
    return out


async def test_old_events_go_except_an_open_alerts_and_unnumbered_ones(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await on_duty(context, "konselor.kb", KB)
    open_alert, _ = await alert_of(client, context)
    closed_alert, _ = await alert_of(client, context)
    await drain(context)
    async with context.sessions() as session:
        await session.execute(
            update(Alert).where(Alert.id == closed_alert).values(state="resolved")
        )
        emit(session, "test.unrelated", at=clock.now())
        await session.commit()
    await settle(context)
    async with context.sessions() as session:
        emit(session, "test.unnumbered", at=clock.now())  # the relay has not numbered it yet
        await session.commit()

    clock.advance(context.settings.outbox.retention_days * 86400 - 1)
    assert await purge_outbox(context, now=clock.now()) == 0
    clock.advance(2)
    purged = await purge_outbox(context, now=clock.now())
    assert purged > 0
    remaining = await kept(context)
    assert "test.unrelated" not in remaining
    assert "test.unnumbered" in remaining
    alert_ids = {a for ids in remaining.values() for a in ids}
    assert open_alert in alert_ids and closed_alert not in alert_ids
    assert context.metrics.outbox_purged._value.get() >= purged


async def test_a_phone_replays_only_its_own_alerts_events(
    client: httpx.AsyncClient,
    context: AppContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await on_duty(context, "konselor.kb", KB)
    mine, _ = await alert_of(client, context)
    for _ in range(3):
        await alert_of(client, context)  # other phones' alerts
    await drain(context)
    head = await settle(context)
    async with context.sessions() as session:
        device_id = (await session.get(Alert, mine)).device_id  # type: ignore[union-attr]
    read: list[uuid.UUID | None] = []
    real = hub_module.load_events

    async def recording(session: Any, **kw: Any) -> Any:
        events = await real(session, **kw)
        read.extend(e.alert_id for e in events)
        return events

    monkeypatch.setattr(hub_module, "load_events", recording)
    audience = Audience(kind="device", device_id=device_id)
    # The phone reads its own numbering, by (device_id, device_seq): never the deployment's.
    replayed = [
        json.loads(m)
        async for m in replay_device(context.sessions, audience, after=0, upto=head, batch=2)
    ]
    assert replayed  # the phone's reassurance events
    assert read == []
    assert [m["seq"] for m in replayed] == list(range(1, len(replayed) + 1))
    assert {m["data"]["alert_id"] for m in replayed} == {str(mine)}
    hub = hub_module.Hub(context)
    staff = Audience(kind="staff", role="supervisor")
    [_ async for _ in hub.replay(staff, after=0, upto=head)]
    assert len(set(read)) == 4  # staff replay still reads everything


async def test_the_replay_windows_start_is_read_once_per_few_seconds(
    client: httpx.AsyncClient,
    context: AppContext,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await alert_of(client, context)
    head = await settle(context)
    hub = hub_module.Hub(context)
    hub.head = head
    reads: list[int] = []
    real = hub_module.Hub.oldest_replayable

    async def counting(self: hub_module.Hub, session: Any) -> int:
        value = await real(self, session)
        reads.append(value)
        return value

    monkeypatch.setattr(hub_module.Hub, "oldest_replayable", counting)
    async with context.sessions() as session:
        first = await window.oldest_replayable(hub, session, now=clock.now())
        clock.advance(window.TTL_S - 0.1)
        assert await window.oldest_replayable(hub, session, now=clock.now()) == first
        assert len(reads) == 1
        clock.advance(0.1)  # the window moved on: read again
        await window.oldest_replayable(hub, session, now=clock.now())
        assert len(reads) == 2

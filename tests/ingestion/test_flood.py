"""One phone cannot flood the service, and a press is still never refused (docs/intake.md,
"Floods"; docs/dispatch.md, "Floods and notification lanes").

A press after a cancel, or from a device that keeps opening alerts, reopens its latest alert and
is routed afresh; one device's cycles offer each unit a bounded number of times, then the alert
stays open for staff as one attention item; registration past a network's limit is unvetted,
never refused; notification lanes keep an established device's offer and the 112 hand-off going
out whatever new devices spend."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.clock import FrozenClock
from app.context import AppContext
from app.main import create_app
from app.models import (
    Alert,
    Assignment,
    Device,
    Notification,
    NotificationBudget,
    OutboxEvent,
    StaffUser,
    Unit,
)
from app.notify import deliver_due
from app.realtime.hub import load_facts
from app.realtime.relay import sequence_pending
from app.realtime.scopes import Audience, StreamEvent, device_windows, message_for
from tests.conftest import make_settings
from tests.dispatch.staffing import drain, on_duty, token_on_duty
from tests.helpers import auth, press, press_body, register

KB = "3171060"  # Kebayoran Baru: the nearest post to Blok M, where press_body presses


async def set_pins(client: httpx.AsyncClient, credential: str) -> None:
    answer = await client.put(
        "/v1/devices/me/pins",
        json={"cancel_pin": "2468", "duress_pin": "1357"},
        headers=auth(credential),
    )
    assert answer.status_code == 204, answer.text


async def cancel(
    client: httpx.AsyncClient, credential: str, alert_id: str, pin: str | None = None
) -> httpx.Response:
    answer = await client.post(
        f"/v1/alerts/{alert_id}/cancel",
        json={} if pin is None else {"pin": pin},
        headers=auth(credential),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "cancelled"
    return answer


async def open_offers(context: AppContext, alert_id: str) -> list[Assignment]:
    async with context.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(Assignment).where(
                        Assignment.alert_id == uuid.UUID(alert_id),
                        Assignment.status == "offered",
                    )
                )
            ).all()
        )


async def accept(client: httpx.AsyncClient, token: str, leg: Assignment) -> None:
    answer = await client.post(f"/v1/assignments/{leg.id}/accept", headers=auth(token))
    assert answer.status_code == 200, answer.text


async def event_types(context: AppContext, alert_id: str) -> list[str]:
    async with context.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(OutboxEvent.event_type)
                    .where(OutboxEvent.alert_id == uuid.UUID(alert_id))
                    .order_by(OutboxEvent.id)
                )
            ).all()
        )


async def offer_messages(context: AppContext, alert_id: str) -> list[Notification]:
    async with context.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(Notification).where(
                        Notification.alert_id == uuid.UUID(alert_id),
                        Notification.kind == "offer",
                    )
                )
            ).all()
        )


async def deliver_all(context: AppContext) -> None:
    while await deliver_due(context):
        pass


async def test_twenty_press_cancel_cycles_give_one_alert_bounded_offers_and_spare_the_next_victim(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await on_duty(context, "konselor.kb", KB, kind="on_call")
    device_id, credential = await register(client)  # no PINs: cancelling needs none
    dispatch = context.settings.dispatch
    statuses = []
    alert_id = ""
    for _ in range(20):
        answer = await press(client, credential, press_body(context))
        statuses.append(answer.status_code)
        alert_id = alert_id or answer.json()["id"]
        assert answer.json()["id"] == alert_id and answer.json()["status"] == "received"
        await drain(context)
        await cancel(client, credential, alert_id)
        await drain(context)
    assert statuses == [201] + [200] * 19  # every press answered, none refused

    async with context.sessions() as session:
        alerts = (
            await session.scalars(select(Alert).where(Alert.device_id == uuid.UUID(device_id)))
        ).all()
        per_unit = dict(
            (
                await session.execute(
                    select(Assignment.unit_code, func.count())
                    .where(Assignment.alert_id == uuid.UUID(alert_id))
                    .group_by(Assignment.unit_code)
                )
            ).all()
        )
    assert len(alerts) == 1
    (alert,) = alerts
    # The documented bound: the first offer and flood_cycles reopens, never more than
    # ring_max_offers_per_unit per unit.
    assert per_unit[KB] == 1 + dispatch.flood_cycles <= dispatch.ring_max_offers_per_unit
    assert all(n <= dispatch.ring_max_offers_per_unit for n in per_unit.values())
    assert alert.reopen_count == 19 and alert.flood_suspected_at is not None
    assert alert.state == "routed"  # open for staff, offered to nobody
    assert not await open_offers(context, alert_id)
    events = await event_types(context, alert_id)
    assert events.count("alert.reopened") == 19 and events.count("alert.flood_suspected") == 1
    assert events.count("alert.cancelled") == 20  # the phone saw every cancel

    await deliver_all(context)
    flood_offers = await offer_messages(context, alert_id)
    assert len(flood_offers) == 1 + dispatch.flood_cycles
    assert all(n.status == "sent" for n in flood_offers)  # first offers: never withheld

    # The next real victim's first offer still reaches the on-call counselor.
    _, victim = await register(client)
    answer = await press(client, victim, press_body(context))
    assert answer.status_code == 201
    await drain(context)
    await deliver_all(context)
    [offer] = await offer_messages(context, answer.json()["id"])
    assert offer.status == "sent"


async def test_a_mistaken_cancel_then_a_press_gets_a_new_offer_that_a_counselor_accepts(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    _, credential = await register(client)
    await set_pins(client, credential)
    first = await press(client, credential, press_body(context))
    alert_id = first.json()["id"]
    await drain(context)
    [earlier] = await open_offers(context, alert_id)
    await cancel(client, credential, alert_id, pin="2468")
    await drain(context)
    assert not await open_offers(context, alert_id)

    again = await press(client, credential, press_body(context))
    assert (again.status_code, again.json()["id"], again.json()["status"]) == (
        200,
        alert_id,
        "received",
    )
    assert again.headers["Location"].endswith(alert_id)
    await drain(context)
    [new] = await open_offers(context, alert_id)
    assert new.id != earlier.id and new.unit_code == KB and new.step > earlier.step
    await accept(client, token, new)
    seen = await client.get(f"/v1/alerts/{alert_id}", headers=auth(credential))
    assert seen.json()["status"] == "acknowledged" and seen.json()["closed_at"] is None
    events = await event_types(context, alert_id)
    assert events.index("alert.cancelled") < events.index("alert.reopened")
    async with context.sessions() as session:
        alert = await session.get(Alert, uuid.UUID(alert_id))
        assert alert is not None
        assert alert.state == "acknowledged" and alert.cancelled_at is None
        assert alert.reopened_at is not None and alert.routed_at == alert.reopened_at


async def test_a_device_whose_alert_staff_resolved_gets_a_new_offer_that_a_counselor_accepts(
    client: httpx.AsyncClient,
    context: AppContext,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    _, credential = await register(client)
    first = await press(client, credential, press_body(context))
    alert_id = first.json()["id"]
    await drain(context)
    [leg] = await open_offers(context, alert_id)
    await accept(client, token, leg)
    resolved = await client.post(
        f"/v1/alerts/{alert_id}/resolve", json={"disposition": "assisted"}, headers=auth(token)
    )
    assert resolved.status_code == 200, resolved.text

    # Below the hourly count a press after a resolution opens a new alert, offered afresh.
    clock.advance(60)
    fresh = await press(client, credential, press_body(context))
    assert fresh.status_code == 201 and fresh.json()["id"] != alert_id
    await drain(context)
    [offer] = await open_offers(context, fresh.json()["id"])
    await accept(client, token, offer)
    resolved = await client.post(
        f"/v1/alerts/{fresh.json()['id']}/resolve",
        json={"disposition": "assisted"},
        headers=auth(token),
    )
    assert resolved.status_code == 200, resolved.text

    # At the hourly count it reopens the latest, and is offered afresh all the same.
    monkeypatch.setattr(context.settings.intake, "rejoin_alerts_per_hour", 2)
    again = await press(client, credential, press_body(context))
    assert (again.status_code, again.json()["id"]) == (200, fresh.json()["id"])
    assert again.json()["status"] == "received" and again.json()["closed_at"] is None
    await drain(context)
    [reoffer] = await open_offers(context, fresh.json()["id"])
    assert reoffer.id != offer.id
    await accept(client, token, reoffer)
    seen = await client.get(f"/v1/alerts/{fresh.json()['id']}", headers=auth(credential))
    assert seen.json()["status"] == "acknowledged"


async def supervisor_without_shift(context: AppContext) -> uuid.UUID:
    """A supervisor rostered nowhere: the central desk stays empty, and supervisors on duty
    fall back to every supervisor."""
    async with context.sessions() as session:
        central = await session.scalar(select(Unit).where(Unit.code == "central"))
        assert central is not None
        user = StaffUser(
            id=uuid.uuid4(),
            username="supervisor",
            password_hash="!",
            role="supervisor",
            unit_id=central.id,
            created_at=context.clock.now(),
        )
        session.add(user)
        await session.commit()
        return user.id


async def test_fresh_devices_cannot_spend_an_older_devices_share_and_the_112_hand_off_goes_out(
    client: httpx.AsyncClient,
    context: AppContext,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dispatch = context.settings.dispatch
    monkeypatch.setattr(dispatch, "notify_daily_cap", 10)  # a reserved share of 3
    _, older = await register(client)
    clock.advance(dispatch.notify_established_age_s + 60)
    await on_duty(context, "konselor.kb", KB, kind="on_call")
    await supervisor_without_shift(context)
    for _ in range(12):  # many fresh devices, one press each
        _, fresh = await register(client)
        assert (await press(client, fresh, press_body(context))).status_code == 201
    await drain(context)
    await deliver_all(context)
    async with context.sessions() as session:
        spent = (
            await session.execute(
                select(Notification.status, func.count())
                .where(Notification.kind == "offer")
                .group_by(Notification.status)
            )
        ).all()
    assert dict(spent) == {"sent": 7, "suppressed": 5}  # the new lane stops at 10 - 3

    answer = await press(client, older, press_body(context))
    assert answer.status_code == 201
    await drain(context)
    await deliver_all(context)
    [offer] = await offer_messages(context, answer.json()["id"])
    assert offer.status == "sent"

    # No location: the central desk, which nobody staffs: handed to 112 at once, and the
    # supervisors are told from the critical pool whatever offers spent.
    _, lost = await register(client)
    handed = await press(client, lost, {"reporter": "victim"})
    await drain(context)
    await deliver_all(context)
    # The supervisor was just told the pool runs low: the hand-off follows in one digest.
    clock.advance(dispatch.notify_digest_window_s + 1)
    await deliver_all(context)
    async with context.sessions() as session:
        told = (
            await session.scalars(
                select(Notification.status).where(
                    Notification.alert_id == uuid.UUID(handed.json()["id"]),
                    Notification.kind == "transfer",
                )
            )
        ).all()
        low = (
            await session.scalars(
                select(Notification.status).where(Notification.kind == "notify_low")
            )
        ).all()
    assert list(told) == ["sent"]
    assert len(low) == 1  # the pool ran low: supervisors were told once, from the critical pool


async def test_a_victim_behind_an_exhausted_network_registers_presses_and_reaches_a_counselor(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    limited = replace(
        context,
        settings=make_settings(
            context.settings.database_url, intake={"registrations_per_network_per_hour": 3}
        ),
    )
    app = create_app(context=limited, run_loops=False)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 4321))
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    await supervisor_without_shift(context)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as carrier:
        for _ in range(3):  # another client exhausts the carrier's address
            assert (await carrier.post("/v1/devices", json={})).status_code == 201
        credentials = []
        for _ in range(3):
            answer = await carrier.post("/v1/devices", json={})
            assert answer.status_code == 201, answer.text
            credentials.append(answer.json()["credential"])
            async with context.sessions() as session:
                device = await session.get(Device, uuid.UUID(answer.json()["device_id"]))
                assert device is not None and device.unvetted
        pressed = await press(carrier, credentials[0], press_body(context))
        assert pressed.status_code == 201, pressed.text
    alert_id = pressed.json()["id"]
    await drain(context)
    await deliver_all(context)
    [offer] = await offer_messages(context, alert_id)
    assert offer.status == "sent"  # from the unvetted lane
    async with context.sessions() as session:
        lanes = dict(
            (await session.execute(select(NotificationBudget.pool, NotificationBudget.spent))).all()
        )
    assert lanes["unvetted"] == 1 and lanes["ordinary"] == 1
    [leg] = await open_offers(context, alert_id)
    await accept(client, token, leg)
    async with context.sessions() as session:
        surge = (
            await session.scalars(
                select(Notification.status).where(Notification.kind == "registration_surge")
            )
        ).all()
        announced = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.event_type == "device.registration_surge")
        )
    assert list(surge) == ["sent"] and announced == 1  # once per surge window


async def device_sees(context: AppContext, device_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every event of the device's alerts as its stream renders them, in order."""
    while await sequence_pending(context) is not None:
        pass
    async with context.sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxEvent)
                .join(Alert, Alert.id == OutboxEvent.alert_id)
                .where(Alert.device_id == uuid.UUID(device_id))
                .order_by(OutboxEvent.seq)
            )
        ).all()
        facts = await load_facts(session, {r.alert_id for r in rows if r.alert_id})
    audience = Audience(kind="device", device_id=uuid.UUID(device_id))
    seen = []
    for row in rows:
        assert row.seq is not None
        event = StreamEvent(row.seq, row.event_type, row.created_at, row.alert_id, row.payload)
        message = message_for(audience, event, facts.get(row.alert_id) if row.alert_id else None)
        if message is not None:
            seen.append((message[0], {**message[1], "alert_id": "ALERT"}))
    return seen


async def test_after_a_join_the_genuine_and_the_duress_device_see_exactly_the_same(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    seen: dict[str, list[Any]] = {}
    for pin in ("2468", "1357"):
        device_id, credential = await register(client)
        await set_pins(client, credential)
        alert_id = (await press(client, credential, press_body(context))).json()["id"]
        await drain(context)
        answers: list[Any] = [(await cancel(client, credential, alert_id, pin)).json()]
        await drain(context)
        if pin == "1357":
            # Under duress the alert goes on for staff: a counselor takes it meanwhile.
            [leg] = await open_offers(context, alert_id)
            await accept(client, token, leg)
        joined = await press(client, credential, press_body(context))
        answers.append((joined.status_code, joined.json()))
        read = await client.get(f"/v1/alerts/{alert_id}", headers=auth(credential))
        answers.append(read.json())
        await drain(context)
        [reoffer] = await open_offers(context, alert_id)
        await accept(client, token, reoffer)
        read = await client.get(f"/v1/alerts/{alert_id}", headers=auth(credential))
        answers.append(read.json())
        answers.append((await cancel(client, credential, alert_id, pin)).json())
        replacements = {alert_id: "ALERT"}
        for answer in answers:
            body = answer[1] if isinstance(answer, tuple) else answer
            replacements[body["case_code"]] = "CODE"
        seen[pin] = [_normalise(repr(a), replacements) for a in answers]
        seen[pin].append(repr(await device_sees(context, device_id)))
    # Times come from the frozen clock, which does not move between the two runs.
    assert seen["2468"] == seen["1357"]
    assert "'status': 'acknowledged'" in seen["2468"][-1]  # the new acceptance, after the join


def _normalise(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


async def test_a_press_after_the_window_opens_a_new_alert_linked_to_a_running_duress_alert(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    _, credential = await register(client)
    await set_pins(client, credential)
    alert_id = (await press(client, credential, press_body(context))).json()["id"]
    await cancel(client, credential, alert_id, pin="1357")
    clock.advance(context.settings.intake.rejoin_window_s + 1)
    later = await press(client, credential, press_body(context))
    assert later.status_code == 201 and later.json()["id"] != alert_id
    async with context.sessions() as session:
        linked = await session.get(Alert, uuid.UUID(later.json()["id"]))
        assert linked is not None and str(linked.linked_alert_id) == alert_id


def test_the_phone_sees_its_alert_from_the_start_to_each_close_and_from_each_reopen() -> None:
    turns = [
        (5, "alert.cancelled"),
        (9, "alert.resolved"),  # staff closing what the phone already saw end: no new window
        (12, "alert.reopened"),
        (20, "alert.duress_signalled"),
        (31, "alert.reopened"),
    ]
    assert device_windows(turns) == ((0, 5), (12, 20), (31, None))
    assert device_windows([]) == ((0, None),)


async def test_a_real_press_never_joins_a_drill_even_right_after_its_cancel(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, credential = await register(client)
    drill = await press(client, credential, press_body(context, is_drill=True))
    assert drill.status_code == 201 and drill.json()["is_drill"] is True
    await cancel(client, credential, drill.json()["id"])
    real = await press(client, credential, press_body(context))
    assert real.status_code == 201 and real.json()["id"] != drill.json()["id"]
    assert real.json()["is_drill"] is False

"""Side by side: a genuine device and a duress device, every answer compared field by field.

Whoever holds the phone may have watched the victim type the duress PIN and believe it is *the*
PIN. Each test runs the same steps on two devices, one whose holder knows the cancel PIN and one
whose holder knows the duress PIN, and compares what the phone sees: status, headers that matter
and body (with each device's own ids and codes replaced). The work done is compared too, by
construction and never by a stopwatch: argon2 verifications and jobs, and SQL statements, per
step. The surfaces and their tests are listed in docs/intake.md ("What the phone's holder can
reach").
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx
from sqlalchemy import event, func, select, update

from app.clock import FrozenClock
from app.context import AppContext
from app.models import Alert, AlertLocation, Device, OutboxEvent
from app.policy.retention import run_retention
from app.security.fields import new_key_spec
from app.security.hashing import DUMMY_PIN_SLOTS, PepperRing, SecretHasher, pepper_of
from app.security.pin_peppers import UNPEPPERED, missing_from, pepper_census
from app.sla.monitor import run_cycle
from tests.dispatch.staffing import drain, legs, on_duty, token_on_duty
from tests.helpers import (
    auth,
    integrator_token,
    press,
    press_body,
    register,
    sign_in,
    staff_token,
    transfer_to_112,
)
from tests.identity.signin import CountingHasher, client_from
from tests.integrations.test_webhooks import client_token

CANCEL, DURESS = "2468", "1357"
KNOWN = {"genuine": CANCEL, "duress": DURESS}
"""The PIN the holder watched the victim type."""
SHOWN_HEADERS = ("content-type", "retry-after", "location", "idempotent-replayed")


class Recorder:
    """Answers and the work behind them, per step, for one device."""

    def __init__(self, hasher: CountingHasher, context: AppContext) -> None:
        self.hasher, self.context = hasher, context
        self.steps: list[tuple[str, Any]] = []
        self.work: list[tuple[str, tuple[int, int, int]]] = []
        self.names: dict[str, str] = {}

    def name(self, value: str, label: str) -> None:
        self.names[value] = label

    @contextmanager
    def counted(self, step: str) -> Iterator[None]:
        statements = [0]

        def count(*_: Any) -> None:
            statements[0] += 1

        engine = self.context.engine.sync_engine
        self.hasher.verifications = self.hasher.jobs = 0
        event.listen(engine, "before_cursor_execute", count)
        try:
            yield
        finally:
            event.remove(engine, "before_cursor_execute", count)
        self.work.append((step, (self.hasher.verifications, self.hasher.jobs, statements[0])))

    def _named(self, text: str | None) -> str | None:
        for value, label in self.names.items():
            text = text.replace(value, label) if text is not None else None
        return text

    def seen(self, step: str, response: httpx.Response) -> httpx.Response:
        text = self._named(response.text) or ""
        headers = {h: self._named(response.headers.get(h)) for h in SHOWN_HEADERS}
        body = json.loads(text) if text else None
        self.steps.append(
            (step, {"status": response.status_code, "headers": headers, "body": body})
        )
        return response


def _compare(genuine: list[tuple[str, Any]], duress: list[tuple[str, Any]]) -> None:
    assert [s for s, _ in genuine] == [s for s, _ in duress]
    for (step, left), (_, right) in zip(genuine, duress, strict=True):
        assert left == right, step


async def _pin_story(context: AppContext, client: httpx.AsyncClient, who: str) -> Recorder:
    """change PIN with the known PIN -> press -> cancel with the new PIN -> try the old PIN ->
    change again -> press -> cancel with the replaced PIN, then the latest -> wrong PINs until
    the lock-out -> GET /v1/devices/me."""
    assert isinstance(context.hasher, CountingHasher)
    rec = Recorder(context.hasher, context)
    device_id, credential = await register(client)
    rec.name(device_id, "DEVICE")
    first = {"cancel_pin": CANCEL, "duress_pin": DURESS}  # the victim's own set-up
    assert (
        await client.put("/v1/devices/me/pins", json=first, headers=auth(credential))
    ).status_code == 204
    known, headers = KNOWN[who], auth(credential)

    def put_pins(current: str, new: str) -> Any:
        return client.put(
            "/v1/devices/me/pins", json={"current_pin": current, "cancel_pin": new}, headers=headers
        )

    with rec.counted("change with the known PIN"):
        rec.seen("change with the known PIN", await put_pins(known, "5555"))
    with rec.counted("press"):
        created = await press(client, credential, press_body(context))
    rec.name(created.json()["id"], "ALERT1")
    rec.name(created.json()["case_code"], "CODE1")
    rec.seen("press", created)
    with rec.counted("cancel with the new PIN"):
        rec.seen(
            "cancel with the new PIN",
            await client.post(
                f"/v1/alerts/{created.json()['id']}/cancel", json={"pin": "5555"}, headers=headers
            ),
        )
    with rec.counted("try the old PIN"):
        rec.seen("try the old PIN", await put_pins(known, "6666"))
    with rec.counted("change again"):
        rec.seen("change again", await put_pins("5555", "7777"))
    second = await press(client, credential, press_body(context))
    rec.name(second.json()["id"], "ALERT2")
    rec.name(second.json()["case_code"], "CODE2")
    rec.seen("press again", second)
    for step, pin in (("cancel with the replaced PIN", "5555"), ("cancel with the latest", "7777")):
        with rec.counted(step):
            rec.seen(
                step,
                await client.post(
                    f"/v1/alerts/{second.json()['id']}/cancel", json={"pin": pin}, headers=headers
                ),
            )
    for n in range(context.settings.intake.pin_max_failures + 1):
        with rec.counted(f"wrong PIN {n}"):
            rec.seen(f"wrong PIN {n}", await put_pins("0000", "8888"))
    rec.seen("read settings", await client.get("/v1/devices/me", headers=headers))
    rec.seen(
        "read the first alert",
        await client.get(f"/v1/alerts/{created.json()['id']}", headers=headers),
    )
    return rec


async def test_pin_changes_answer_and_work_alike_whichever_pin_the_holder_knows(
    context: AppContext,
) -> None:
    hasher = CountingHasher(context.settings.security, peppers=new_key_spec("p1"))
    counted = replace(context, hasher=hasher)
    async with client_from(counted, "203.0.113.7") as client:
        await _pin_story(counted, client, "genuine")  # warms up what a first request fills
        genuine = await _pin_story(counted, client, "genuine")
        duress = await _pin_story(counted, client, "duress")

    _compare(genuine.steps, duress.steps)
    assert genuine.work == duress.work  # (argon2 verifications, jobs, SQL statements) per step
    # The scenario holds: the answers are the ones a phone expects, and the work is real.
    answers = dict(genuine.steps)
    assert answers["change with the known PIN"]["status"] == 204
    assert answers["try the old PIN"]["body"]["type"] == "/problems/pin-incorrect"
    assert answers["cancel with the replaced PIN"]["status"] == 403
    assert answers["cancel with the latest"]["body"]["status"] == "cancelled"
    lockout = answers[f"wrong PIN {context.settings.intake.pin_max_failures}"]
    assert lockout["status"] == 429 and lockout["headers"]["retry-after"] is not None
    assert answers["read settings"]["body"]["cancel_paused_until"] is not None
    work = dict(genuine.work)
    assert work["change with the known PIN"][:2] == (DUMMY_PIN_SLOTS, 2)  # check, then hash
    assert work["cancel with the new PIN"][:2] == (DUMMY_PIN_SLOTS, 1)

    async with counted.sessions() as session:
        devices = {
            who: await session.scalar(select(Device).where(Device.id == uuid.UUID(_device_of(rec))))
            for who, rec in (("genuine", genuine), ("duress", duress))
        }
        alerts = {
            who: (
                await session.scalars(
                    select(Alert).where(Alert.device_id == uuid.UUID(_device_of(rec)))
                )
            ).all()
            for who, rec in (("genuine", genuine), ("duress", duress))
        }
        told = {
            who: sorted(
                (
                    await session.scalars(
                        select(OutboxEvent.event_type).where(
                            OutboxEvent.alert_id.in_([a.id for a in alerts[who]]),
                            OutboxEvent.event_type.like("device.%"),
                        )
                    )
                ).all()
            )
            for who in ("genuine", "duress")
        }
    # Staff know: the duress device's alerts say its PINs were changed with a duress PIN...
    assert told == {
        "genuine": ["device.pins_changed"],
        "duress": ["device.pins_changed_under_duress"],
    }
    # ...both its alerts carry on for them, and the victim's real cancel PIN still works.
    assert {(a.duress, a.state) for a in alerts["duress"]} == {(True, "received")}
    assert {(a.duress, a.state) for a in alerts["genuine"]} == {(False, "cancelled")}
    genuine_device, duress_device = devices["genuine"], devices["duress"]
    assert genuine_device is not None and duress_device is not None
    # The failure count and the lock-out behind the answers are the same too.
    assert (genuine_device.pin_failures, genuine_device.pin_locked_until) == (
        duress_device.pin_failures,
        duress_device.pin_locked_until,
    )
    assert genuine_device.pin_locked_until is not None
    assert (await hasher.verify_pins(_slots(duress_device), CANCEL)).cancel


def _device_of(rec: Recorder) -> str:
    return next(value for value, label in rec.names.items() if label == "DEVICE")


def _slots(device: Device) -> tuple[str | None, ...]:
    return (device.cancel_pin_hash, device.duress_pin_hash, device.extra_duress_pin_hash)


async def _cancelled(
    client: httpx.AsyncClient, context: AppContext, pin: str
) -> tuple[str, str, str]:
    _, credential = await register(client)
    pins = {"cancel_pin": CANCEL, "duress_pin": DURESS}
    assert (await client.put("/v1/devices/me/pins", json=pins, headers=auth(credential))).is_success
    created = (await press(client, credential, press_body(context))).json()
    cancel = await client.post(
        f"/v1/alerts/{created['id']}/cancel", json={"pin": pin}, headers=auth(credential)
    )
    assert cancel.status_code == 200, cancel.text
    return credential, created["id"], created["case_code"]


async def test_a_re_posted_fix_answers_alike_before_and_after_the_retention_purge(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    """Retention purges a genuinely cancelled alert's trail, never a duress-cancelled one's: the
    phone's answers must not read the trail (app.ingestion.follow.as_sent)."""
    devices = {who: await _cancelled(client, context, pin) for who, pin in KNOWN.items()}
    fix = {
        "lat": -6.2436,
        "lon": 106.8013,
        "accuracy_m": 10,
        "fix_at": clock.now().isoformat(),
        "source": "gps",
    }
    seen: dict[str, list[Any]] = {who: [] for who in devices}

    async def post_all(step: str, points: list[dict[str, Any]]) -> None:
        for who, (credential, alert_id, _) in devices.items():
            answer = await client.post(
                f"/v1/alerts/{alert_id}/locations",
                json={"points": points},
                headers=auth(credential),
            )
            seen[who].append((step, answer.status_code, answer.json()))

    await post_all("after the cancel", [fix])
    await post_all("the same fix again", [fix])
    clock.advance(30 * 86400 + 60)
    await run_retention(context)
    await post_all("the old fix after the purge", [fix])
    fresh = {**fix, "fix_at": clock.now().isoformat()}
    await post_all("a new fix after the purge", [fresh, fix])
    for who, (credential, alert_id, code) in devices.items():
        for step, answer in (
            (
                "read after the purge",
                await client.get(f"/v1/alerts/{alert_id}", headers=auth(credential)),
            ),
            (
                "cancel again after the purge",
                await client.post(
                    f"/v1/alerts/{alert_id}/cancel",
                    json={"pin": KNOWN[who]},
                    headers=auth(credential),
                ),
            ),
        ):
            text = answer.text.replace(alert_id, "ALERT").replace(code, "CODE")
            seen[who].append((step, answer.status_code, json.loads(text)))

    assert seen["genuine"] == seen["duress"]
    assert seen["genuine"][2][2] == {
        "accepted": 1,
        "duplicates": 0,
        "stale": 1,
        "latest_fix_at": None,
    }
    async with context.sessions() as session:
        purged = {
            who: (await session.get(Alert, uuid.UUID(alert_id))).purged_at is not None  # type: ignore[union-attr]
            for who, (_, alert_id, _) in devices.items()
        }
    assert purged == {"genuine": True, "duress": False}  # the scenario holds
    # What was posted after the purge is purged at the next run: no new trail on a purged alert.
    await run_retention(context)
    async with context.sessions() as session:
        trails = {
            who: await session.scalar(
                select(func.count()).where(AlertLocation.alert_id == uuid.UUID(alert_id))
            )
            for who, (_, alert_id, _) in devices.items()
        }
    assert trails == {"genuine": 0, "duress": 2}  # the press's fix and the new one


async def test_the_eido_export_says_cancelled_under_duress_to_uptd_ppa_staff_only(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """Readers who did not watch the alert live follow the live rule (app.policy.profile)."""
    supervisor = await staff_token(client, context, "spv", "supervisor", "central")
    integrator = await client_token(
        client, context, scopes=["exports:read", "alerts:read"], data_scope="112"
    )
    exports: dict[str, dict[str, Any]] = {}
    for who, pin in KNOWN.items():
        _, alert_id, _ = await _cancelled(client, context, pin)
        await transfer_to_112(context, alert_id)
        async with context.sessions() as session:  # staff closed both, each with its reason
            await session.execute(
                update(Alert)
                .where(Alert.id == uuid.UUID(alert_id))
                .values(
                    state="resolved",
                    resolved_at=context.clock.now(),
                    disposition="cancelled_by_victim"
                    if who == "genuine"
                    else "cancelled_under_duress",
                )
            )
            await session.commit()
        for reader, token in (("supervisor", supervisor), ("integrator", integrator)):
            answer = await client.get(f"/v1/exports/alerts/{alert_id}/eido", headers=auth(token))
            assert answer.status_code == 200, answer.text
            exports[f"{reader}/{who}"] = answer.json()["incidentComponent"]

    def told(key: str) -> tuple[Any, ...]:
        incident = exports[key]
        return (incident["disposition"], incident["doNotCallBack"], incident.get("approach"))

    assert told("supervisor/genuine") == ("cancelled_by_victim", False, None)
    assert told("supervisor/duress") == ("cancelled_under_duress", True, None)
    assert told("integrator/genuine") == told("integrator/duress")
    assert told("integrator/duress") == ("cancelled_by_victim", True, "discreet")


async def test_a_pepper_rotation_never_changes_what_a_cancel_answers(
    context: AppContext,
) -> None:
    """PINs set before peppers existed, then a pepper added, then rotated: both PINs still
    cancel, each as before, with the same answers and the same work; each hash moves to the
    current pepper at its first use."""
    p1, p2 = new_key_spec("p1"), new_key_spec("p2")
    rings = {"before": "", "added": p1, "rotated": f"{p2},{p1}"}
    devices: dict[str, str] = {}
    async with client_from(
        replace(context, hasher=SecretHasher(context.settings.security)), "203.0.113.7"
    ) as client:
        for who in KNOWN:
            _, devices[who] = await register(client)
            pins = {"cancel_pin": CANCEL, "duress_pin": DURESS}
            put = await client.put("/v1/devices/me/pins", json=pins, headers=auth(devices[who]))
            assert put.status_code == 204
    answers: dict[str, list[Any]] = {who: [] for who in KNOWN}
    kinds: dict[str, list[str | None]] = {who: [] for who in KNOWN}
    for stage in ("added", "rotated"):
        hasher = CountingHasher(context.settings.security, peppers=rings[stage])
        counted = replace(context, hasher=hasher)
        async with client_from(counted, "203.0.113.7") as client:
            for who, pin in KNOWN.items():
                created = (await press(client, devices[who], press_body(context))).json()
                hasher.verifications = hasher.jobs = 0
                cancel = await client.post(
                    f"/v1/alerts/{created['id']}/cancel",
                    json={"pin": pin},
                    headers=auth(devices[who]),
                )
                body = cancel.json()
                answers[who].append(
                    (stage, cancel.status_code, body["status"], sorted(body), hasher.verifications)
                )
                async with counted.sessions() as session:
                    device = await session.get(Device, await _device_id(session, created["id"]))
                    assert device is not None
                    used = device.cancel_pin_hash if who == "genuine" else device.duress_pin_hash
                    assert used is not None
                    kinds[who].append(pepper_of(used)[0])
    assert answers["genuine"] == answers["duress"]
    assert [a[1:3] for a in answers["genuine"]] == [(200, "cancelled"), (200, "cancelled")]
    assert kinds == {"genuine": ["p1", "p2"], "duress": ["p1", "p2"]}
    # What `sigap keys pins` reports: the PINs not used since stay unpeppered until their use.
    async with context.sessions() as session:
        census = await pepper_census(session, PepperRing(rings["rotated"]))
    assert census == {UNPEPPERED: 2, "p2": 2}
    assert missing_from(PepperRing(new_key_spec("p3")), census) == ["p2"]


async def _device_id(session: Any, alert_id: str) -> uuid.UUID:
    device_id = await session.scalar(select(Alert.device_id).where(Alert.id == uuid.UUID(alert_id)))
    assert device_id is not None
    return device_id  # type: ignore[no-any-return]


UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


async def test_for_transit_staff_and_integrators_a_duress_cancel_changes_nothing(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    """Two presses at a Transjakarta station: one never cancelled, one cancelled under duress.
    What a pseudonymous reader gets of them, live or later (the alert, its routing, its
    timeline, the offers list, the EIDO export), is the same but for their own ids: the leg
    goes on as if there had been no cancel, and no marker stands in for the secret."""
    await on_duty(context, "konselor.kb", "3171060")
    tj = await token_on_duty(client, context, "petugas.tj", "transit_staff", "transjakarta")
    integrator = await integrator_token(
        client,
        context,
        ["alerts:read", "exports:read"],
        data_scope="transit",
        unit_code="transjakarta",
    )
    pressed: dict[str, tuple[str, dict[str, Any]]] = {}
    for who in ("untouched", "duress"):
        _, credential = await register(client)
        pins = {"cancel_pin": CANCEL, "duress_pin": DURESS}
        put = await client.put("/v1/devices/me/pins", json=pins, headers=auth(credential))
        assert put.status_code == 204
        pressed[who] = (credential, (await press(client, credential, press_body(context))).json())
    await drain(context)
    for _, created in pressed.values():  # the guard takes both: the counselor's clock starts
        (transit_leg,) = [g for g in await legs(context, created["id"]) if g.leg_kind == "transit"]
        accept = await client.post(f"/v1/assignments/{transit_leg.id}/accept", headers=auth(tj))
        assert accept.status_code == 200, accept.text
    credential, created = pressed["duress"]
    cancel = await client.post(
        f"/v1/alerts/{created['id']}/cancel", json={"pin": DURESS}, headers=auth(credential)
    )
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    await drain(context)
    # Past the counselor's first-contact deadline (5 min), within the guard's claim (10 min): a
    # duress cancel closes that clock, and for transit staff that must show nowhere.
    for _ in range(8):  # minute by minute, as the running loops would see it
        clock.advance(60)
        await drain(context)
        await run_cycle(context)
    tj = (await sign_in(client, "petugas.tj"))["access_token"]  # the first token has expired
    integrator = await integrator_token(
        client,
        context,
        ["alerts:read", "exports:read"],
        data_scope="transit",
        unit_code="transjakarta",
    )

    def normalised(text: str, created: dict[str, Any]) -> Any:
        text = text.replace(created["id"], "ALERT").replace(created["case_code"], "CODE")
        return json.loads(UUID_RE.sub("UUID", text))

    seen: dict[str, dict[str, Any]] = {}
    for who, (_, created) in pressed.items():
        reads = {}
        for label, token, path in (
            ("transit alert", tj, f"/v1/alerts/{created['id']}"),
            ("transit routing", tj, f"/v1/alerts/{created['id']}/routing"),
            ("transit timeline", tj, f"/v1/alerts/{created['id']}/timeline"),
            ("transit clocks", tj, f"/v1/alerts/{created['id']}/sla"),
            ("integrator alert", integrator, f"/v1/alerts/{created['id']}"),
            ("integrator export", integrator, f"/v1/exports/alerts/{created['id']}/eido"),
        ):
            answer = await client.get(path, headers=auth(token))
            assert answer.status_code == 200, (who, label, answer.text)
            reads[label] = normalised(answer.text, created)
        offers = (await client.get("/v1/assignments", headers=auth(tj))).json()["items"]
        reads["transit offer"] = [
            normalised(json.dumps(o), created) for o in offers if o["alert_id"] == created["id"]
        ]
        seen[who] = reads
    for label in seen["untouched"]:
        assert seen["untouched"][label] == seen["duress"][label], label
    alert = seen["duress"]["transit alert"]
    assert (alert["state"], alert["do_not_call_back"], alert["approach"]) == (
        "acknowledged",
        True,
        "discreet",
    )
    assert seen["duress"]["transit offer"], "the transit leg is held (the scenario holds)"
    assert seen["duress"]["transit clocks"], "transit staff see clocks (the scenario holds)"
    async with context.sessions() as session:  # and staff's own clocks did differ
        breached = {
            who: sorted(
                (
                    await session.scalars(
                        select(OutboxEvent.payload["clock"].as_string()).where(
                            OutboxEvent.alert_id == uuid.UUID(created["id"]),
                            OutboxEvent.event_type == "sla.breached",
                        )
                    )
                ).all()
            )
            for who, (_, created) in pressed.items()
        }
    assert "first_contact" in breached["untouched"] and "first_contact" not in breached["duress"]

"""The authorization matrix with a canary in every personal field, checked in EVERY response body
and EVERY stream message.

One table of principals says what each may see; every principal is sent to every alert route
(found from the route table, so a new route joins by itself) and to the lists, on a child
victim's alert that was routed, offered, expired at one post and claimed by the next, handed over
to police and transferred to 112. A 200 that carries a canary to someone not entitled to it is a
leak; a denial to someone entitled to read is a wrong denial.

Every principal also follows the same scenario on ``/v1/stream``: live, on a socket opened before
the press, and replayed from ``after: 0`` once it is over. A stream message with a canary (stream
payloads carry ids and non-personal facts only, for everyone), or with an event the principal may
not get, is a leak; an event it may get and did not is a wrong denial; and the replay must show
exactly what live delivery did. The matrix size (REST cells + stream cells) is printed.

The whole matrix runs three times: on the open record; on the same record restricted by the claim
holder (the victim is a staff member), where supervisors see it pseudonymous until one of them
breaks the glass (the matrix's last write) and admins never see its identity; and on the
restricted record reassigned afterwards to the central desk ("ops") and claimed there: the
claim holder works it pseudonymously (taking a claim opens no identity) until she breaks the
glass herself, and the post whose claim the reassignment released is passed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from app.api.shedding import ROUTE_PRIORITIES
from app.clock import FrozenClock
from app.context import AppContext
from app.events import INTERNAL_EVENTS
from app.models import OutboxEvent, StreamState
from app.policy.events import about_units_leg, is_case_matter
from tests.dispatch.staffing import drain, legs, on_duty, token_on_duty
from tests.helpers import (
    auth,
    integrator_token,
    press,
    press_body,
    register,
    staff_token,
    transfer_to_112,
)
from tests.policy.test_every_route_asks import BODIES
from tests.realtime.live import Live, live_server, settled, stream

KB, KL = "3171060", "3171050"
IDENTITY = ("CANARY-NAME", "CANARY-PHONE", "CANARY-TEXT")
"""The child victim's identity: contact name and phone, free text (also in the raw body)."""
NOTE = "CANARY-NOTE"
"""Written by the claim holder after Kebayoran Baru's offer closed."""
CANARIES = (*IDENTITY, NOTE)


@dataclass(frozen=True)
class Who:
    reads_alert: bool = False
    """May read the alert's routes (200 on GET)."""
    identity: bool = False
    notes: bool = False
    exports: bool = False
    """May read the EIDO export (``exports:read`` and the alert in its data scope)."""
    events_from: str | None = None
    """The scenario moment from which it gets the alert's events on the stream (None: never)."""
    events_until: str | None = None
    """... and up to which (its unit's offer closed); None: without end."""
    events_either_from: str | None = None
    """From this moment until ``events_from``, events may or may not reach it (never a canary):
    a unit offered, withdrawn and offered again later sees the gap between its legs depending
    on whether the relay numbered those events before or after the later leg
    (``app.policy.sight.unit_sight`` adds a unit's legs up)."""
    own_unit: str | None = None
    """Its unit: events about that unit's own legs (``assignment.*``) come whatever the
    moment."""
    case_events: bool = False
    """The case file's events (UPTD PPA staff only)."""
    device: bool = False
    """The phone that pressed: the reassurance events of its own alert."""


READER = Who(reads_alert=True, identity=True, notes=True, case_events=True)
TABLE: dict[str, Who] = {
    "anonymous": Who(),
    "owner_device": Who(device=True),  # the reassurance view only: no canary, no staff route
    "other_device": Who(),
    "holder_counselor": Who(
        reads_alert=True,
        identity=True,
        notes=True,
        events_from="kl_offered",
        own_unit=KL,
        case_events=True,
    ),
    "holder_paralegal": Who(
        reads_alert=True,
        identity=True,
        notes=True,
        events_from="kl_offered",
        own_unit=KL,
        case_events=True,
    ),
    # Passed on: its REST sight ended with the grace; on the stream it saw up to its close.
    "expired_post_counselor": Who(
        events_from="routed", events_until="kb_closed", own_unit=KB, case_events=True
    ),
    "other_post_counselor": Who(),
    # Accepted on the spot; pseudonymous.
    "transit_offered": Who(reads_alert=True, events_from="routed", own_unit="transjakarta"),
    "transit_other_operator": Who(own_unit="mrt"),
    "supervisor": Who(reads_alert=True, identity=True, notes=True, exports=True, events_from="*"),
    "admin": Who(reads_alert=True, identity=True, notes=True, exports=True, events_from="*"),
    "integrator_alerts": Who(),  # alerts:read without a data scope: no alert at all
    "integrator_reference": Who(),
    # Integrators with a data scope (alerts:read, exports:read): pseudonymous, from the moment
    # the alert entered their scope.
    "integrator_transjakarta": Who(reads_alert=True, exports=True, events_from="routed"),
    "integrator_mrt": Who(),
    "integrator_police": Who(reads_alert=True, exports=True, events_from="handed_over"),
    "integrator_112": Who(reads_alert=True, exports=True, events_from="transferred"),
}
RESTRICTED_TABLE: dict[str, Who] = {
    **TABLE,
    # A restricted record: identity only for the unit holding the claim; supervisors see it
    # pseudonymous until they break the glass, admins never.
    "supervisor": Who(reads_alert=True, exports=True, events_from="*"),
    "admin": Who(reads_alert=True, exports=True, events_from="*"),
}
CENTRAL_CLAIMER = Who(
    reads_alert=True,
    events_either_from="kl_offered",
    events_from="reassigned",
    own_unit="central",
    case_events=True,
)
"""The central desk's counselor who took the restricted record's claim after the reassignment:
the pseudonymous view (no identity, no note text) until she breaks the glass (her last write).
Her desk was first offered the follow-up beside Kebayoran Lama (docs/dispatch.md): the events
between that offer and the reassignment may reach her or not (``events_either_from``)."""
RECLAIMED_TABLE: dict[str, Who] = {
    **RESTRICTED_TABLE,
    # The reassignment released Kebayoran Lama's claim: its sight ended there (passed on).
    "holder_counselor": Who(
        events_from="kl_offered", events_until="reassigned", own_unit=KL, case_events=True
    ),
    "holder_paralegal": Who(
        events_from="kl_offered", events_until="reassigned", own_unit=KL, case_events=True
    ),
    "central_claimer": CENTRAL_CLAIMER,
}
TABLES = {"open": TABLE, "restricted": RESTRICTED_TABLE, "reclaimed": RECLAIMED_TABLE}
INTEGRATOR_READS = ("/v1/alerts/{alert_id}", "/v1/exports/alerts/{alert_id}/eido")
"""The alert routes an integrator may use at all (the rest are staff's: 403)."""
STAFF_ONLY_READS = {"/v1/alerts/{alert_id}/notes": ("transit_offered",)}
"""Routes a reader's role still may not use (transit staff read no notes: 403)."""
CASE_ROUTES = ("/v1/alerts/{alert_id}/case",)
PASSED_ON = "/v1/alerts/{alert_id}/passed-on"
"""Where the alert went: unit codes only, for the units that had a leg, whose sight may have
ended (the on-call link opened late). Canaries are checked in it like everywhere else."""
LEG_UNITS = (
    "expired_post_counselor",
    "holder_counselor",
    "holder_paralegal",
    "transit_offered",
    # the central desk: offered the follow-up beside Kebayoran Lama while Transjakarta held it
    "supervisor",
    "admin",
    "central_claimer",
)
DEVICE_EVENTS = {
    "alert.received": "alert.received",
    "assignment.accepted": "alert.acknowledged",
    "alert.on_scene": "alert.on_scene",
    "alert.resolved": "alert.resolved",
    "alert.cancelled": "alert.cancelled",
}
"""What the phone is told, by the event staff see (docs/stream.md)."""


async def _tokens(client: httpx.AsyncClient, context: AppContext) -> dict[str, str]:
    t: dict[str, str] = {}
    _, t["owner_device"] = await register(client)
    _, t["other_device"] = await register(client)
    t["expired_post_counselor"] = await token_on_duty(client, context, "k.kb", "counselor", KB)
    t["holder_counselor"] = await token_on_duty(client, context, "k.kl", "counselor", KL)
    t["holder_paralegal"] = await token_on_duty(client, context, "p.kl", "paralegal", KL)
    t["other_post_counselor"] = await staff_token(client, context, "k.x", "counselor", "3174010")
    t["transit_offered"] = await token_on_duty(
        client, context, "petugas.tj", "transit_staff", "transjakarta"
    )
    t["transit_other_operator"] = await token_on_duty(
        client, context, "petugas.mrt", "transit_staff", "mrt"
    )
    t["central_claimer"] = await token_on_duty(client, context, "k.pusat", "counselor", "central")
    t["supervisor"] = await staff_token(client, context, "spv", "supervisor", "central")
    t["admin"] = await staff_token(client, context, "adm", "admin", "central")
    t["integrator_alerts"] = await integrator_token(client, context, ["alerts:read"])
    t["integrator_reference"] = await integrator_token(client, context, ["reference:read"])
    scoped = ["alerts:read", "exports:read"]
    for name, data_scope, unit in (
        ("integrator_transjakarta", "transit", "transjakarta"),
        ("integrator_mrt", "transit", "mrt"),
        ("integrator_police", "police", None),
        ("integrator_112", "112", None),
    ):
        t[name] = await integrator_token(
            client, context, scoped, data_scope=data_scope, unit_code=unit
        )
    return t


@dataclass
class Scenario:
    alert_id: str
    case_id: str
    moments: dict[str, datetime]


async def _scenario(
    client: httpx.AsyncClient,
    context: AppContext,
    clock: FrozenClock,
    tokens: dict[str, str],
    *,
    restricted: bool,
    reclaimed: bool = False,
) -> Scenario:
    """Pressed, routed a second later to Kebayoran Baru and Transjakarta (which accepts at once);
    Kebayoran Baru's offer expires and Kebayoran Lama (offered with the central desk, for the
    follow-up of an alert Transjakarta holds) takes it, writes a note and opens a case;
    handed over to police, transferred to 112; then Kebayoran Baru's grace runs out. Reclaimed:
    then a supervisor reassigns the restricted record to the central desk, whose counselor
    accepts it."""
    moments: dict[str, datetime] = {"press": clock.now()}
    body = press_body(
        context,
        victim_is_child=True,
        contact={"name": "CANARY-NAME", "phone": "CANARY-PHONE"},
        message="CANARY-TEXT",
    )
    alert_id = (await press(client, tokens["owner_device"], body)).json()["id"]
    clock.advance(1)
    moments["routed"] = clock.now()
    await drain(context)
    tj_leg = next(str(g.id) for g in await legs(context, alert_id) if g.unit_code == "transjakarta")
    tj = auth(tokens["transit_offered"])
    assert (await client.post(f"/v1/assignments/{tj_leg}/accept", headers=tj)).is_success
    clock.advance(60)  # Kebayoran Baru's offer expires, Kebayoran Lama is offered
    moments["kb_closed"] = moments["kl_offered"] = clock.now()
    await drain(context)
    kl_leg = next(str(g.id) for g in await legs(context, alert_id) if g.unit_code == KL)
    clock.advance(5)
    holder = auth(tokens["holder_counselor"])
    assert (await client.post(f"/v1/assignments/{kl_leg}/accept", headers=holder)).is_success
    assert (
        await client.post(f"/v1/alerts/{alert_id}/notes", json={"text": NOTE}, headers=holder)
    ).status_code == 201
    case = await client.post(
        f"/v1/alerts/{alert_id}/case",
        json=BODIES[("POST", "/v1/alerts/{alert_id}/case")],
        headers=holder,
    )
    assert case.status_code == 201, case.text
    if restricted:
        clock.advance(1)  # after the claim was taken: its holder keeps the whole record
        restrict = {"restricted": True, "reason": "staff_member"}
        url = f"/v1/alerts/{alert_id}/restriction"
        assert (await client.post(url, json=restrict, headers=holder)).status_code == 204
    clock.advance(5)
    moments["handed_over"] = clock.now()
    handed = {"milestone": "handed_over", "handed_over_to": "police"}
    progress = f"/v1/alerts/{alert_id}/progress"
    assert (await client.post(progress, json=handed, headers=holder)).is_success
    clock.advance(5)
    moments["transferred"] = clock.now()
    await transfer_to_112(context, alert_id)
    clock.advance(120)  # Kebayoran Baru's grace is over
    if reclaimed:
        clock.advance(5)
        moments["reassigned"] = clock.now()
        moved = await client.post(
            f"/v1/alerts/{alert_id}/reassign",
            json={"unit_code": "central", "reason": "ops"},
            headers=auth(tokens["supervisor"]),
        )
        assert moved.status_code == 200, moved.text
        central = next(
            str(g.id)
            for g in await legs(context, alert_id)
            if g.unit_code == "central" and g.status == "offered"
        )
        claimer = auth(tokens["central_claimer"])
        accepted = await client.post(f"/v1/assignments/{central}/accept", headers=claimer)
        assert accepted.status_code == 200, accepted.text
        clock.advance(1)  # past the release of Kebayoran Lama's claim: its sight has ended
    return Scenario(alert_id, case.json()["id"], moments)


@pytest.mark.parametrize("variant", sorted(TABLES))
async def test_no_canary_reaches_anyone_not_entitled_and_no_reader_is_denied(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock, variant: str
) -> None:
    table = TABLES[variant]
    restricted, reclaimed = variant != "open", variant == "reclaimed"
    await _number_from_one(context)
    tokens = await _tokens(client, context)
    await on_duty(context, "pusat", "central")
    async with live_server(context) as live, contextlib.AsyncExitStack() as sockets:
        following = {
            who: await sockets.enter_async_context(stream(live.base, tokens[who]))
            for who in table
            if who in tokens
        }
        scenario = await _scenario(
            client, context, clock, tokens, restricted=restricted, reclaimed=reclaimed
        )
        leaks, wrong, rest_cells = await _rest_matrix(client, tokens, scenario, table)
        # Every event of the scenario (and of the REST matrix's writes) reached every socket.
        await settled(context, live)
        live_seen = dict(
            zip(
                following,
                await asyncio.gather(*(ws.sent() for ws in following.values())),
                strict=True,
            )
        )
        replayed = {
            who: await _replayed(live, tokens[who], len(live_seen[who])) for who in following
        }
        refused = [await _anonymous_is_refused(live, after) for after in (None, 0)]
        everything = await _all_events(context)
    stream_cells = 0
    for who, messages in live_seen.items():
        for channel, got in (("live", messages), ("replay", replayed[who])):
            stream_cells += len(everything)
            leaks += _stream_leaks(who, channel, got, everything, scenario, table)
            wrong += _stream_denials(who, channel, got, everything, scenario, table)
        either = _either(who, everything, scenario, table)
        if [m for m in replayed[who] if m["seq"] not in either] != [
            m for m in messages if m["seq"] not in either
        ]:
            wrong.append(f"{who} stream: the replay differs from live delivery")
    stream_cells += 2 * len(everything)  # anonymous: refused (4003), nothing sent
    if not all(refused):
        leaks.append(f"anonymous stream: not refused with 4003 before any event {refused}")
    print(
        f"\ncanary matrix ({variant} record): {len(table)}"
        f" principals x {rest_cells // len(table)} route cells"
        f" = {rest_cells} REST cells + {len(table)} principals x 2 stream channels"
        f" x {len(everything)} events = {stream_cells} stream cells;"
        f" total {rest_cells + stream_cells}"
    )
    assert leaks == []
    assert wrong == []
    if restricted:  # the supervisor broke the glass among its writes: now it sees, admins not
        seen = [("supervisor", True), ("admin", False), ("holder_counselor", not reclaimed)]
        if reclaimed:  # so did the central desk's claim holder, among hers
            seen.append(("central_claimer", True))
        for who, sees in seen:
            view = await client.get(f"/v1/alerts/{scenario.alert_id}", headers=auth(tokens[who]))
            assert ("CANARY-NAME" in view.text) is sees, who


async def _rest_matrix(
    client: httpx.AsyncClient, tokens: dict[str, str], scenario: Scenario, table: dict[str, Who]
) -> tuple[list[str], list[str], int]:
    alert_id = scenario.alert_id
    reads = sorted(p for m, p in ROUTE_PRIORITIES if m == "GET" and "{alert_id}" in p)
    # Breaking the glass last: after it, the supervisor is entitled to what it then reads.
    writes = sorted(
        (
            (m, p)
            for m, p in ROUTE_PRIORITIES
            if m != "GET"
            and ("{alert_id}" in p or "{case_id}" in p)
            and (m, p) in BODIES
            # would end the matrix's alert, or lift its restriction
            and not p.endswith(("/resolve", "/reassign", "/case", "/restriction"))
        ),
        key=lambda route: (route[1].endswith("/break-glass"), route),
    )
    lists = ["/v1/alerts", "/v1/assignments?status=closed", "/v1/assignments"]
    leaks: list[str] = []
    wrong: list[str] = []
    cells = 0

    def check(who: str, label: str, answer: httpx.Response) -> None:
        entitled = table[who]
        hidden = [*(() if entitled.identity else IDENTITY), *(() if entitled.notes else (NOTE,))]
        leaked = [c for c in hidden if c in answer.text]
        if leaked:
            leaks.append(f"{who} {label} {answer.status_code}: {leaked}")

    for who in table:
        headers = auth(tokens[who]) if who in tokens else {}
        integrator = who.startswith("integrator_")
        for path in reads:
            cells += 1
            url = path.replace("{alert_id}", alert_id)
            answer = await client.get(url, headers=headers)
            check(who, f"GET {path}", answer)
            reader = table[who].reads_alert and who not in STAFF_ONLY_READS.get(path, ())
            if path in CASE_ROUTES and who == "transit_offered":
                reader = False
            if integrator and path not in INTEGRATOR_READS:
                reader = False  # staff's routes
            if path.startswith("/v1/exports/"):
                # exports: supervisors, admins, integrators with exports:read in their scope;
                # the SIMFONI case export also needs cases:read, which no integrator here has.
                reader = table[who].exports and not (integrator and path.endswith("/simfoni"))
            if path == PASSED_ON:
                # Reclaimed: the central desk (every supervisor's and admin's unit) has a leg.
                central_leg = "central_claimer" in table and who in ("supervisor", "admin")
                reader = who in LEG_UNITS or central_leg
            if reader and answer.status_code != 200:
                wrong.append(f"{who} GET {path}: {answer.status_code} {answer.text[:120]}")
            if not reader and answer.status_code < 400 and who != "owner_device":
                leaks.append(f"{who} GET {path}: {answer.status_code}")
        for url in lists:
            cells += 1
            check(who, f"GET {url}", await client.get(url, headers=headers))
        for method, path in writes:
            cells += 1
            url = path.replace("{alert_id}", alert_id).replace("{case_id}", scenario.case_id)
            payload: Any = BODIES[(method, path)]
            answer = await client.request(method, url, json=payload, headers=headers)
            check(who, f"{method} {path}", answer)
            if (not table[who].reads_alert or integrator) and answer.status_code < 400:
                leaks.append(f"{who} {method} {path}: {answer.status_code}")
    return leaks, wrong, cells


async def _number_from_one(context: AppContext) -> None:
    """Every test starts with an empty outbox; numbering it from 1 again, as a fresh deployment
    does, makes ``after: 0`` a replay of this test's whole history (not a resync)."""
    async with context.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
        await session.execute(update(StreamState).values(last_seq=0))
        await session.commit()


async def _all_events(context: AppContext) -> list[OutboxEvent]:
    async with context.sessions() as session:
        rows = (await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))).all()
    assert all(row.seq is not None for row in rows)
    # Signals between processes (a socket closed, access changed) are sent to nobody.
    return [row for row in rows if row.event_type not in INTERNAL_EVENTS]


async def _replayed(live: Live, token: str, count: int) -> list[dict[str, Any]]:
    """A socket resuming from ``after: 0``: what live delivery sent, then nothing more."""
    async with stream(live.base, token, after=0, epoch=live.hub.epoch) as ws:
        assert ws.ready["type"] == "ready"
        events = await ws.events(count, wait_s=10) if count else []
        return events + [m for m in await ws.quiet(0.2) if m["type"] != "pong"]


async def _anonymous_is_refused(live: Live, after: int | None) -> bool:
    async with stream(live.base, "", after=after, expect_ready=False) as ws:
        code, received = await ws.closed_with()
    return code == 4003 and received == []


def _expected(
    who: str, everything: list[OutboxEvent], scenario: Scenario, table: dict[str, Who]
) -> dict[int, str]:
    """seq -> event name: what the principal must get of the whole history, from the table
    (a phone's seq is on its own numbering)."""
    entitled = table[who]
    expected: dict[int, str] = {}
    for row in everything:
        assert row.seq is not None
        name, data = row.event_type, row.payload
        if entitled.device:
            # A phone's stream numbers only its own events, 1, 2, 3, ... (docs/stream.md).
            mapped = DEVICE_EVENTS.get(name)
            if mapped is not None and row.alert_id == uuid.UUID(scenario.alert_id):
                expected[len(expected) + 1] = mapped
            continue
        if entitled.events_from == "*":
            expected[row.seq] = name
            continue
        if row.alert_id is None or (is_case_matter(name, data) and not entitled.case_events):
            continue
        own_leg = about_units_leg(name, data, entitled.own_unit)
        since = scenario.moments.get(entitled.events_from or "")
        until = scenario.moments.get(entitled.events_until or "")
        in_sight = (
            since is not None
            and row.created_at >= since
            and (until is None or row.created_at <= until)
        )
        if own_leg or in_sight:
            expected[row.seq] = name
    return expected


def _stream_leaks(
    who: str,
    channel: str,
    got: list[dict[str, Any]],
    everything: list[OutboxEvent],
    scenario: Scenario,
    table: dict[str, Who],
) -> list[str]:
    expected = _expected(who, everything, scenario, table)
    either = _either(who, everything, scenario, table)
    found: list[str] = []
    for message in got:
        canaries = [c for c in CANARIES if c in repr(message)]
        if canaries:
            found.append(f"{who} stream {channel} seq {message['seq']}: {canaries}")
        if message["seq"] in either:
            continue
        if expected.get(message["seq"]) != message["event"]:
            found.append(f"{who} stream {channel}: {message['event']} (seq {message['seq']})")
        if table[who].device and set(message["data"]) != {"alert_id", "status"}:
            found.append(f"{who} stream {channel}: staff data on the phone {message['data']}")
    return found


def _either(
    who: str, everything: list[OutboxEvent], scenario: Scenario, table: dict[str, Who]
) -> set[int]:
    """The events that may or may not reach ``who`` (``Who.events_either_from``)."""
    entitled = table[who]
    since = scenario.moments.get(entitled.events_either_from or "")
    until = scenario.moments.get(entitled.events_from or "")
    if since is None or until is None:
        return set()
    return {
        row.seq
        for row in everything
        if row.seq is not None and row.alert_id is not None and since <= row.created_at < until
    }


def _stream_denials(
    who: str,
    channel: str,
    got: list[dict[str, Any]],
    everything: list[OutboxEvent],
    scenario: Scenario,
    table: dict[str, Who],
) -> list[str]:
    expected = _expected(who, everything, scenario, table)
    seen = {message["seq"] for message in got}
    missing = [f"{name} (seq {seq})" for seq, name in expected.items() if seq not in seen]
    entitled = table[who]
    if (entitled.events_from or entitled.device) and not expected:
        missing.append("no event at all, though entitled to the alert's")
    return [f"{who} stream {channel}: missing {item}" for item in missing]

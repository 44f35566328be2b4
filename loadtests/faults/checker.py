"""The checker: the history and the sockets' records against what the database holds at the end.

Every count in ``Verdict.errors`` must be 0:

* ``lost``: an operation answered 2xx whose alert is not in the database;
* ``duplicated``: a phone (one per operation) with more than one alert, or one key answered with
  two different alert ids;
* ``phantom``: an alert for an operation that only ever got definite refusals;
* ``routing``: an alert without exactly one first routing decision (step 0), or with a hole in
  its steps (each step is the previous one + 1, ladder.py);
* ``gaps``: a committed event a resumed socket may see but never got (the supervisor sees every
  event; a counselor the offers to its unit), out-of-order deliveries counted too;
* ``resyncs``: a socket told to start over (``resync_required``) although its cursor was inside
  the replay window;
* ``sla_never_fired`` / ``sla_fired_twice``: a clock still running well past its deadline, or
  two ``sla.breached`` events for one alert and clock.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field

import asyncpg

from app.events import INTERNAL_EVENTS
from loadtests.faults.clients import Follower
from loadtests.faults.history import History


@dataclass
class Verdict:
    errors: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    facts: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not any(self.errors.values())

    def add(self, name: str, found: list[str]) -> None:
        self.errors[name] = len(found)
        if found:
            self.examples[name] = found[:5]


@dataclass(frozen=True)
class Numbered:
    seq: int
    event_type: str
    offered_to: str | None  # an offer's unit, read once (the wait below asks many times)


def expected_seqs(follower: Follower, events: list[Numbered]) -> dict[int, str]:
    """The events (seq: type) this socket must have got: every one after it first connected for
    the supervisor, the offers to its unit for a counselor; none a resync told it to skip."""
    if follower.first_head is None:
        return {}
    first, skipped = follower.first_head, follower.resyncs
    return {
        e.seq: e.event_type
        for e in events
        if e.seq > first
        and (follower.sees_everything or e.offered_to == follower.unit_code)
        and not any(a < e.seq <= b for a, b in skipped)
    }


async def numbered_events(connection: asyncpg.Connection, until: int) -> list[Numbered]:
    rows = await connection.fetch(
        "SELECT seq, event_type, payload FROM outbox_event "
        "WHERE seq IS NOT NULL AND seq <= $1 ORDER BY seq",
        until,
    )
    return [
        Numbered(
            row["seq"],
            row["event_type"],
            str(_payload(row["payload"]).get("unit_code"))
            if row["event_type"] == "assignment.offered"
            else None,
        )
        for row in rows
        if row["event_type"] not in INTERNAL_EVENTS  # signals between processes: sent to nobody
    ]


async def check(
    url: str,
    history: History,
    credentials: list[str],
    followers: list[Follower],
    *,
    stream_until: int,
    sla_grace_s: float,
) -> Verdict:
    verdict = Verdict()
    connection = await asyncpg.connect(url)
    try:
        device_ids = {
            row["credential_hash"]: str(row["id"])
            for row in await connection.fetch("SELECT id, credential_hash FROM device")
        }
        alerts = await connection.fetch(
            "SELECT id::text AS id, device_id::text AS device FROM alert"
        )
        routing = await connection.fetch(
            "SELECT a.id::text AS id, count(r.id) FILTER (WHERE r.step = 0) AS first, "
            "count(r.id) AS decisions, coalesce(max(r.step), -1) AS last_step "
            "FROM alert a LEFT JOIN routing_decision r ON r.alert_id = a.id GROUP BY a.id"
        )
        events = await numbered_events(connection, stream_until)
        overdue = await connection.fetch(
            "SELECT alert_id::text AS id, clock FROM sla_clock "
            "WHERE status IN ('running', 'warning') AND NOT excluded "
            "AND deadline_at < now() - make_interval(secs => $1)",
            sla_grace_s,
        )
        breaches = await connection.fetch(
            "SELECT alert_id::text AS id, payload FROM outbox_event "
            "WHERE event_type = 'sla.breached'"
        )
        routing_clocks = await connection.fetchval(
            "SELECT count(*) FROM sla_clock WHERE clock = 'routing'"
        )
        fired = await connection.fetchval(
            "SELECT count(*) FROM sla_clock WHERE status = 'breached'"
        )
    finally:
        await connection.close()

    by_device: dict[str, list[str]] = {}
    for row in alerts:
        by_device.setdefault(row["device"], []).append(row["id"])
    stored = {row["id"] for row in alerts}
    lost, duplicated, phantom = [], [], []
    for op in history.operations:
        device = device_ids.get(hashlib.sha256(credentials[op.device].encode()).hexdigest())
        mine = by_device.get(device or "", [])
        if op.outcome == "ok" and op.alert_id not in stored:
            lost.append(f"op {op.index} {op.alert_id} answers {op.answers}")
        if len(mine) > 1 or len(op.ids_seen) > 1:
            duplicated.append(f"op {op.index}: alerts {mine}, answered {sorted(op.ids_seen)}")
        if op.outcome == "failed" and mine:
            phantom.append(f"op {op.index}: refused ({op.answers}) yet recorded as {mine}")
    verdict.add("lost", lost)
    verdict.add("duplicated", duplicated)
    verdict.add("phantom", phantom)
    verdict.add(
        "routing",
        [
            f"{r['id']}: {r['first']} first decisions, {r['decisions']} in all, last step "
            f"{r['last_step']}"
            for r in routing
            if r["first"] != 1 or r["decisions"] != r["last_step"] + 1
        ],
    )

    gaps: list[str] = []
    expected_by_counselors = 0
    for follower in followers:
        if follower.first_head is None:
            gaps.append(f"{follower.name} never connected")
            continue
        expected = expected_seqs(follower, events)
        expected_by_counselors += 0 if follower.sees_everything else len(expected)
        for seq, event_type in expected.items():
            if seq not in follower.received:
                # Past the socket's cursor: it was still behind; at or below: it was skipped.
                where = "behind" if seq > (follower.last_seq or 0) else "skipped"
                gaps.append(
                    f"{follower.name} missed seq {seq} ({event_type}; {where}, socket at "
                    f"{follower.last_seq}, {follower.connections} connections)"
                )
        if follower.out_of_order:
            gaps.append(f"{follower.name}: {follower.out_of_order} events out of order")
    verdict.add("gaps", gaps)
    # Every socket here resumes well inside the replay window: a resync would be the server
    # giving up on a cursor it should serve, and the events it skipped are excused above.
    verdict.add(
        "resyncs",
        [f"{f.name}: told to resync from {a} to {b}" for f in followers for a, b in f.resyncs],
    )
    verdict.add("sla_never_fired", [f"{r['id']} {r['clock']}" for r in overdue])
    twice = Counter((r["id"], _payload(r["payload"]).get("clock")) for r in breaches)
    verdict.add("sla_fired_twice", [f"{a} {c}: {n}" for (a, c), n in twice.items() if n > 1])
    verdict.facts = {
        "alerts": len(alerts),
        "events_checked": len(events),
        "events_delivered": sum(len(f.received) for f in followers),
        "counselor_offers_checked": expected_by_counselors,
        "socket_connections": sum(f.connections for f in followers),
        "resyncs": sum(len(f.resyncs) for f in followers),
        "routing_clocks": int(routing_clocks),
        "sla_breaches_fired": int(fired),
    }
    return verdict


def _payload(value: object) -> dict[str, object]:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}

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
* ``sla_never_fired`` / ``sla_fired_twice``: a clock still running well past its deadline, or
  two ``sla.breached`` events for one alert and clock.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field

import asyncpg

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
        events = await connection.fetch(
            "SELECT seq, event_type, payload FROM outbox_event "
            "WHERE seq IS NOT NULL AND seq <= $1 ORDER BY seq",
            stream_until,
        )
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
        skipped = follower.resyncs
        for row in events:
            seq = row["seq"]
            if seq <= follower.first_head or any(a < seq <= b for a, b in skipped):
                continue
            if not follower.sees_everything:
                payload = _payload(row["payload"])
                if row["event_type"] != "assignment.offered" or (
                    payload.get("unit_code") != follower.unit_code
                ):
                    continue
            expected_by_counselors += not follower.sees_everything
            if seq not in follower.received:
                gaps.append(f"{follower.name} missed seq {seq} ({row['event_type']})")
        if follower.out_of_order:
            gaps.append(f"{follower.name}: {follower.out_of_order} events out of order")
    verdict.add("gaps", gaps)
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

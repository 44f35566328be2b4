"""Which clocks an alert (and its case) has, when each started and stopped: pure functions of the
server timestamps the state machine stamped and the policy's targets. No database, no clock.

| clock | starts | stops | target key |
| --- | --- | --- | --- |
| routing | received | first offer (routed) | ``routing`` |
| acknowledgement | first offer | first acceptance | ``acknowledgement`` |
| first_contact | acknowledged | victim contacted (not if "do not call back") | ``first_contact`` |
| on_scene | acknowledged | on scene or handed over | ``on_scene:transit`` / ``on_scene:post`` |
| police_report | the victim's report (alert received) | police report made | ``police_report`` |
| protection | police report | temporary protection granted | ``protection`` |
| lpsk_request | protection granted | LPSK asked | ``lpsk_request`` |
| protection_expiry | protection granted | protection ended or renewed | ``protection_expiry`` |
| triage | case opened | first follow-up | ``triage:<risk level>`` |
| trafficking_services | services applied for | delivered | ``trafficking_services`` |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

EXCLUDED_DISPOSITIONS = frozenset({"accidental"})
"""Besides drills: presses that were a mistake never count against anyone."""
CLOSING_STATES = frozenset({"resolved", "cancelled"})


@dataclass(frozen=True)
class AlertTimes:
    received_at: datetime
    routed_at: datetime | None
    acknowledged_at: datetime | None
    contacted_at: datetime | None
    on_scene_at: datetime | None
    handed_over_at: datetime | None
    resolved_at: datetime | None
    cancelled_at: datetime | None
    state: str
    is_drill: bool
    disposition: str | None
    do_not_call_back: bool
    responder_kind: str | None
    """"transit" when transit staff accepted the alert, else "post" (None before acceptance)."""
    case_opened_at: datetime | None = None
    risk_level: str | None = None
    violence_types: tuple[str, ...] = ()
    milestones: Mapping[str, datetime] | None = None
    reopened_at: datetime | None = None
    """A press that reopened the alert (``app.ingestion.press``): its own clocks start there."""


@dataclass(frozen=True)
class ClockPlan:
    clock: str
    target_key: str
    started_at: datetime
    stopped_at: datetime | None


@dataclass(frozen=True)
class Targets:
    version: str
    seconds: Mapping[str, float]
    warn_fraction: float

    def target(self, key: str) -> timedelta:
        base = key.split(":", 1)[0]
        value = self.seconds.get(key, self.seconds.get(base))
        if value is None:
            raise KeyError(f"no SLA target for {key!r}")
        return timedelta(seconds=value)

    def deadlines(self, plan: ClockPlan) -> tuple[datetime, datetime]:
        """(warn_at, deadline_at) of a clock."""
        target = self.target(plan.target_key)
        return plan.started_at + target * self.warn_fraction, plan.started_at + target


def excluded(times: AlertTimes) -> bool:
    """Drills and accidental presses are reported apart. A cancel under duress is never
    excluded: such an alert is not cancelled at all as far as staff and reports go."""
    return (
        times.is_drill
        or times.disposition in EXCLUDED_DISPOSITIONS
        or (times.state == "cancelled" and times.acknowledged_at is None)
    )


def plan_clocks(times: AlertTimes) -> list[ClockPlan]:
    """Every clock that has started, with its stop time if it has stopped."""
    plans = [
        ClockPlan("routing", "routing", times.reopened_at or times.received_at, times.routed_at)
    ]
    if times.routed_at is not None:
        plans.append(
            ClockPlan("acknowledgement", "acknowledgement", times.routed_at, times.acknowledged_at)
        )
    if times.acknowledged_at is not None:
        if not times.do_not_call_back:
            plans.append(
                ClockPlan(
                    "first_contact", "first_contact", times.acknowledged_at, times.contacted_at
                )
            )
        arrived = [t for t in (times.on_scene_at, times.handed_over_at) if t is not None]
        plans.append(
            ClockPlan(
                "on_scene",
                f"on_scene:{times.responder_kind or 'post'}",
                times.acknowledged_at,
                min(arrived) if arrived else None,
            )
        )
    if times.case_opened_at is not None:
        plans += _case_clocks(times)
    return plans


def _case_clocks(times: AlertTimes) -> list[ClockPlan]:
    assert times.case_opened_at is not None
    m = times.milestones or {}
    plans = [
        # UU TPKS Art. 41: from the victim's report, i.e. the alert's receipt, not the case.
        ClockPlan("police_report", "police_report", times.received_at, m.get("police_reported")),
        ClockPlan(
            "triage",
            f"triage:{times.risk_level or 'medium'}",
            times.case_opened_at,
            m.get("followed_up"),
        ),
    ]
    if "police_reported" in m:
        plans.append(
            ClockPlan("protection", "protection", m["police_reported"], m.get("protection_granted"))
        )
    if "protection_granted" in m:
        plans.append(
            ClockPlan(
                "lpsk_request", "lpsk_request", m["protection_granted"], m.get("lpsk_requested")
            )
        )
        plans.append(
            ClockPlan(
                "protection_expiry",
                "protection_expiry",
                m["protection_granted"],
                m.get("protection_ended"),
            )
        )
    if "trafficking" in times.violence_types and "services_applied" in m:
        plans.append(
            ClockPlan(
                "trafficking_services",
                "trafficking_services",
                m["services_applied"],
                m.get("services_delivered"),
            )
        )
    return plans


def closed_at(times: AlertTimes) -> datetime | None:
    """When the alert ended, after which alert clocks that never stopped are closed (case clocks
    run on: the legal duties outlive the alert)."""
    if times.state not in CLOSING_STATES:
        return None
    return times.resolved_at or times.cancelled_at


ALERT_CLOCKS = frozenset({"routing", "acknowledgement", "first_contact", "on_scene"})


def outcome(
    plan: ClockPlan, *, deadline_at: datetime, alert_closed_at: datetime | None, now: datetime
) -> str:
    """met | breached | closed | running — stopping exactly at the deadline is met. An alert
    clock still running when its alert ended before the deadline is closed, not breached."""
    if plan.stopped_at is not None:
        return "met" if plan.stopped_at <= deadline_at else "breached"
    ended_in_time = alert_closed_at is not None and alert_closed_at < deadline_at
    if plan.clock in ALERT_CLOCKS and ended_in_time:
        return "closed"
    if now >= deadline_at:
        return "breached"
    return "running"


OPEN = frozenset({"running", "warning"})


def status_at(
    stored: str,
    plan: ClockPlan | None,
    *,
    warn_at: datetime,
    deadline_at: datetime,
    alert_closed_at: datetime | None,
    now: datetime,
) -> str:
    """What a stored clock is at ``now``, by the monitor's own rule (``outcome``), for reading
    it between two monitor passes. A finished clock (met, breached, closed) stays as it is. An
    open one is judged on its current ``plan`` (the stamps as they are now): an alert clock
    whose alert ended before its deadline without its target event is ``closed`` (stopped with
    the alert, never counted), never ``running`` and never a breach later; one whose deadline
    had already passed when the alert ended is ``breached``. No ``plan``: the clock no longer
    applies (first contact after "do not call back"): ``closed``."""
    if stored not in OPEN:
        return stored
    if plan is None:
        return "closed"
    result = outcome(plan, deadline_at=deadline_at, alert_closed_at=alert_closed_at, now=now)
    if result != "running":
        return result
    return "warning" if stored == "warning" or now >= warn_at else "running"

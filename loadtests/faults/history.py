"""The history of a run: every operation and every fault, with monotonic times.

An operation is one press (one Idempotency-Key, one phone) with all its retries. It ends

* ``ok``: a 2xx with the alert's id (the promise: that alert is committed);
* ``failed``: only definite refusals (4xx/503 problem answers), so nothing can have been recorded;
* ``unknown``: no answer at all for some attempt (timeout, reset) and never a 2xx: the press may
  or may not have been recorded; the checker allows both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["pending", "ok", "failed", "unknown"]


@dataclass
class Operation:
    index: int
    key: str
    device: int
    due: float
    outcome: Outcome = "pending"
    alert_id: str | None = None
    ids_seen: set[str] = field(default_factory=set)
    attempts: int = 0
    indefinite: int = 0
    """Attempts that got no HTTP answer: any of them may have been committed."""
    answers: list[str] = field(default_factory=list)
    finished_at: float | None = None


@dataclass
class Fault:
    kind: str
    """crash | kill | latency | reset | blackhole"""
    started_at: float
    healed_at: float
    detail: str = ""


@dataclass
class History:
    operations: list[Operation] = field(default_factory=list)
    successes: list[float] = field(default_factory=list)
    """When each 2xx answer arrived (monotonic), in arrival order."""
    faults: list[Fault] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = {"ok": 0, "failed": 0, "unknown": 0, "pending": 0}
        for op in self.operations:
            counts[op.outcome] += 1
        return counts


@dataclass(frozen=True)
class Unavailability:
    fault: Fault
    unavailable_s: float
    """The longest stretch without a successful press, from the fault's start on."""
    recovery_s: float
    """From the fault's end (database started, proxy healed, worker killed) to the next 2xx."""


def unavailability(history: History, *, horizon_s: float = 90.0) -> list[Unavailability]:
    """Per fault: measured on the arrival times of 2xx answers, which the open-loop client keeps
    frequent (one every 1/rate s) whenever the service is up."""
    successes = sorted(history.successes)
    results = []
    for fault in history.faults:
        window_end = fault.started_at + horizon_s
        previous = fault.started_at
        longest = 0.0
        for moment in successes:
            if moment <= fault.started_at:
                continue
            if moment > window_end:
                break
            longest = max(longest, moment - previous)
            previous = moment
            if moment > fault.healed_at and moment - fault.healed_at > 5.0:
                break  # well past the fault: later gaps belong to the next one
        after = next((m for m in successes if m >= fault.healed_at), None)
        recovery = (after - fault.healed_at) if after is not None else horizon_s
        results.append(Unavailability(fault, longest, recovery))
    return results

"""The fault harness (loadtests/faults) in short: about 30 s of presses through one PostgreSQL
crash, one SIGKILLed worker and one reset of every database connection must lose, double and
miss nothing; and its negative control (presses answered before commit, one crash in that
window) must make the same checker report losses, proof that it can see them. Only the
checker's counts are asserted, never a timing; the figures are printed."""

from __future__ import annotations

import pytest

from loadtests.faults.harness import Config, run
from loadtests.faults.nemesis import FaultPlan
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql", reason="crashes a private PostgreSQL cluster; the SQLite run has none"
)
ONE_OF_EACH = FaultPlan(crashes=1, kills=1, resets=1, latency_episodes=0, blackholes=0)


async def test_a_crash_a_worker_kill_and_a_reset_lose_double_and_miss_nothing() -> None:
    config = Config(
        rate_per_min=600, duration_s=30, workers=2, counselors=2, plan=ONE_OF_EACH,
        ack_target_s=2.0, sla_grace_s=10.0,
    )
    report = await run(config)
    print("\n".join(report.lines()))
    assert report.verdict.errors == dict.fromkeys(report.verdict.errors, 0), report.lines()
    assert len(report.history.faults) == 3
    assert report.verdict.facts["alerts"] > 0


async def test_the_checker_sees_losses_when_presses_are_answered_before_commit() -> None:
    """Run after the other: two private clusters at once overload a small machine."""
    config = Config(
        rate_per_min=600, duration_s=8, workers=2, counselors=1, control=True, give_up_s=10,
    )
    report = await run(config)
    print("\n".join(report.lines()))
    assert report.verdict.errors["lost"] > 0, report.lines()

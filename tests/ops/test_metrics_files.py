"""Multiprocess metrics: a worker that died (SIGKILL: no clean-up of its own) is dropped from the
per-process gauges at the next scrape, while its counts stay in the totals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.observability import Metrics, exposition, forget_dead_workers

WORKER = """
from app.observability import Metrics
m = Metrics()
m.loop_heartbeat_age.labels("dispatcher").set(1.5)
m.dispatch_tasks.inc(7)
"""


def test_a_dead_workers_gauges_go_and_its_counts_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subprocess.run(
        [sys.executable, "-c", WORKER],
        env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).resolve().parents[2],
        check=True,
        timeout=60,
    )
    assert list(tmp_path.glob("gauge_liveall_*.db"))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = exposition(Metrics().registry).decode()  # the scrape forgets the dead worker first
    assert "sigap_dispatch_tasks_total 7.0" in text
    assert 'sigap_background_loop_heartbeat_age_seconds{loop="dispatcher"' not in text
    assert not list(tmp_path.glob("gauge_liveall_*.db"))
    forget_dead_workers(tmp_path)  # nothing left to forget: harmless

"""Settings are checked at start-up against the rules they feed: a partial override of a dict
setting keeps the other defaults, and a wrong one refuses to start with a clear message."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from app.config import ACK_TIMEOUT_DEFAULTS, SLA_TARGET_DEFAULTS, Settings
from app.sla.policy import Targets
from tests.system.server import REPO


def test_one_sla_target_overridden_keeps_every_other_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIGAP_SLA__TARGETS_S", '{"acknowledgement": 30}')
    targets = Settings().sla.targets_s
    assert targets == {**SLA_TARGET_DEFAULTS, "acknowledgement": 30.0}
    # Every clock the policy asks for still has a target (this raised every cycle before).
    policy = Targets("t", targets, 0.75)
    assert policy.target("routing").total_seconds() == 5.0
    assert policy.target("on_scene:transit").total_seconds() == 600.0


def test_one_ack_timeout_overridden_keeps_the_other_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGAP_DISPATCH__ACK_TIMEOUT_S", '{"central": 90}')
    assert Settings().dispatch.ack_timeout_s == {**ACK_TIMEOUT_DEFAULTS, "central": 90.0}


def test_a_bare_clock_name_is_a_target_for_every_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGAP_SLA__TARGETS_S", '{"triage": 100}')
    assert Settings().sla.targets_s["triage"] == 100.0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "SIGAP_SLA__TARGETS_S",
            '{"acknowledgment": 30}',
            "sla.targets_s: unknown 'acknowledgment'",
        ),
        ("SIGAP_SLA__TARGETS_S", '{"routing": 0}', "positive number of seconds (routing)"),
        ("SIGAP_DISPATCH__ACK_TIMEOUT_S", '{"bus": 30}', "dispatch.ack_timeout_s: unknown 'bus'"),
        ("SIGAP_DISPATCH__ACK_TIMEOUT_S", '{"post": -5}', "positive number of seconds (post)"),
        ("SIGAP_OPS__LOOP_STALL_AFTER_S", '{"hub": 0}', "positive number of seconds (hub)"),
    ],
)
def test_a_setting_no_rule_can_use_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings()


def test_sigap_refuses_to_start_and_names_the_setting() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        cwd=REPO,
        env={"SIGAP_SLA__TARGETS_S": '{"bogus": 30}', "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "invalid settings, refusing to start" in result.stderr
    assert "sla.targets_s: unknown 'bogus'" in result.stderr

"""The default ``log`` provider is visible: its messages reach the server's output at a level an
operator sees by default, and the metric counts them as ``logged``, not ``sent`` (nobody was
reached). Before issue 22 the app's loggers were never configured, so 23 messages marked sent in
a trial appeared nowhere."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from app.context import AppContext
from app.notify import build_providers, deliver_due
from app.observability import configure_logging
from tests.dispatch.staffing import on_duty
from tests.notify.test_delivery import queue_for, rows
from tests.system.server import REPO


def outcome(context: AppContext, name: str) -> float:
    value = context.metrics.registry.get_sample_value(
        "sigap_notifications_total", {"outcome": name}
    )
    return value or 0.0


async def test_a_logged_message_is_counted_as_logged_and_written_as_a_warning(
    context: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor = await on_duty(context, "supervisor", "central", role="supervisor")
    await queue_for(context, [supervisor], "escalation", "7K3Q9M")
    providers = build_providers(
        context.settings.dispatch.model_copy(update={"notify_providers": ["log"]})
    )
    sent_before, logged_before = outcome(context, "sent"), outcome(context, "logged")
    with caplog.at_level(logging.INFO, logger="sigap"):
        assert await deliver_due(context, providers=providers) == 1
    assert outcome(context, "logged") == logged_before + 1
    assert outcome(context, "sent") == sent_before
    [record] = [r for r in caplog.records if r.name == "sigap.notify"]
    assert record.levelno == logging.WARNING
    assert "Sigap SGP-7K3Q9M: escalation." in record.getMessage()
    assert [row.channel for row in await rows(context)] == ["log"]


def test_the_apps_loggers_write_to_standard_error_once_configured() -> None:
    """In a fresh process, as the server starts: an INFO record of a ``sigap.*`` logger
    appears (Python's last-resort handler alone would drop it), once however often the app is
    built."""
    script = (
        "import logging\n"
        "from app.observability import configure_logging\n"
        "configure_logging('INFO'); configure_logging('INFO')\n"
        "logging.getLogger('sigap.loops').info('visible at the default level')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stderr.count("visible at the default level") == 1
    assert "INFO sigap.loops" in done.stderr


def test_configuring_twice_adds_no_second_handler() -> None:
    logger = logging.getLogger("sigap")
    configure_logging("INFO")
    count = len(logger.handlers)
    configure_logging("INFO")
    assert len(logger.handlers) == count

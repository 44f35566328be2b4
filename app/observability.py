"""Prometheus metrics, for the whole deployment on one host.

With several workers (``sigap serve --workers N``) every worker writes its samples to files in
``PROMETHEUS_MULTIPROC_DIR`` (a fresh directory per start, set by ``sigap serve``), and whichever
worker answers a scrape reports them all (``MultiProcessCollector``): counters and histograms are
summed, and each gauge says how it combines (``multiprocess_mode``): per-process facts keep a
``pid`` label (``liveall``: a loop stalled in one worker shows as that worker's), database
figures take the most recent value. Gauges of a worker that died are dropped at the next scrape.
Without the variable (one process, the tests) each registry is in memory.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def exposition(registry: CollectorRegistry) -> bytes:
    """The text a scrape gets: every live worker's samples in multiprocess mode, else this
    process's registry."""
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(registry)
    forget_dead_workers(directory)
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined, path=str(directory))  # type: ignore[no-untyped-call]
    return generate_latest(combined)


def forget_this_process() -> None:
    """A worker shutting down cleanly drops its live gauges at once."""
    directory = multiprocess_dir()
    if directory is not None:
        multiprocess.mark_process_dead(os.getpid(), str(directory))  # type: ignore[no-untyped-call]


def forget_dead_workers(directory: Path) -> None:
    """Drop the live gauges of workers that are gone (a SIGKILLed worker never cleans up; its
    counters stay, as totals should)."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sigap_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.intake_latency = Histogram(
            "sigap_intake_latency_seconds",
            "Time from receiving a press to its committed response.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0),
            registry=self.registry,
        )
        self.alerts_received = Counter(
            "sigap_alerts_received",
            "Presses recorded, by outcome (created, joined, replayed) and kind (real, drill).",
            ["outcome", "kind"],
            registry=self.registry,
        )
        self.loop_heartbeat_age = Gauge(
            "sigap_background_loop_heartbeat_age_seconds",
            "Seconds since each background loop last completed a cycle.",
            ["loop"],
            multiprocess_mode="liveall",
            registry=self.registry,
        )
        self.requests_in_flight = Gauge(
            "sigap_http_requests_in_flight",
            "HTTP requests being served by this process (the overload signal, with the pool).",
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        self.requests_shed = Counter(
            "sigap_http_requests_shed",
            "Requests refused with 503 under overload, by priority (deferrable, standard).",
            ["priority"],
            registry=self.registry,
        )
        self.database_unavailable = Counter(
            "sigap_database_unavailable",
            "Requests answered 503 because the database could not be reached.",
            registry=self.registry,
        )
        self.db_statements = Counter(
            "sigap_db_statements",
            "SQL statements this process sent to the database (round trips, roughly).",
            registry=self.registry,
        )
        self.db_transactions = Counter(
            "sigap_db_transactions",
            "Transactions this process began (a statement in autocommit mode is not counted).",
            registry=self.registry,
        )
        self.notifications = Counter(
            "sigap_notifications",
            "Notification sends by outcome (sent: a gateway took it; logged: only the server's "
            "log has it, the default provider; retried: every provider failed, tried again "
            "later; failed: given up). A digest of several messages is one send.",
            ["outcome"],
            registry=self.registry,
        )
        self.notification_cap_reached = Counter(
            "sigap_notification_cap_reached",
            "Days on which a notification budget (ordinary, critical) turned messages away.",
            ["pool"],
            registry=self.registry,
        )
        self.notification_budget_spent = Gauge(
            "sigap_notification_budget_spent",
            "Sends spent today (the region's day) from each budget, as last seen by this process.",
            ["pool"],
            multiprocess_mode="livemostrecent",
            registry=self.registry,
        )
        self.dispatch_tasks = Counter(
            "sigap_dispatch_tasks",
            "Dispatcher work items done (routing, offer deadlines, lease expiries).",
            registry=self.registry,
        )
        self.stream_connections = Gauge(
            "sigap_stream_connections",
            "Authenticated /v1/stream websockets open in this process.",
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        self.alerts_by_state = Gauge(
            "sigap_alerts",
            "Alerts in the database by state.",
            ["state"],
            multiprocess_mode="livemostrecent",
            registry=self.registry,
        )
        self.sla_clocks = Gauge(
            "sigap_sla_clocks_running",
            "SLA clocks still running, by status (running, warning).",
            ["status"],
            multiprocess_mode="livemostrecent",
            registry=self.registry,
        )
        self.sla_breaches = Gauge(
            "sigap_sla_breaches",
            "SLA clocks breached (drills and accidental presses excluded), by clock.",
            ["clock"],
            multiprocess_mode="livemostrecent",
            registry=self.registry,
        )
        self.sla_interval = Histogram(
            "sigap_sla_interval_seconds",
            "Measured SLA intervals (routing, acknowledgement, ...) as clocks stop, by clock.",
            ["clock"],
            buckets=(1, 5, 10, 30, 45, 60, 120, 300, 600, 1800, 3600, 21600, 86400, 259200),
            registry=self.registry,
        )
        self.oldest_unacknowledged = Gauge(
            "sigap_oldest_unacknowledged_alert_age_seconds",
            "Age of the oldest alert nobody has accepted yet (drills excluded).",
            multiprocess_mode="livemostrecent",
            registry=self.registry,
        )
        self.dispatch_queue_depth = Gauge(
            "sigap_dispatch_queue_depth",
            "Dispatcher tasks due now and not yet done.",
            multiprocess_mode="livemostrecent",
            registry=self.registry,
        )
        self.loop_last_success = Gauge(
            "sigap_background_loop_last_success_timestamp_seconds",
            "Unix time each background loop of each process last completed a cycle. Alert on "
            "time() minus this: it keeps growing even if a process is too stuck to report.",
            ["loop"],
            multiprocess_mode="liveall",
            registry=self.registry,
        )
        self.loop_stalled = Gauge(
            "sigap_background_loop_stalled",
            "1 while a background loop's heartbeat is older than its stall threshold.",
            ["loop"],
            multiprocess_mode="liveall",
            registry=self.registry,
        )
        self.loop_errors = Counter(
            "sigap_background_loop_errors",
            "Background loop cycles that failed (the loop tries again next period).",
            ["loop"],
            registry=self.registry,
        )
        self.loop_pages = Counter(
            "sigap_background_loop_pages",
            "Supervisors paged (kind loop_stalled) about a stalled background loop.",
            ["loop"],
            registry=self.registry,
        )
        self.items_set_aside_total = Counter(
            "sigap_background_items_set_aside",
            "Items a background loop set aside because they failed on their own (the rest of "
            "their batch proceeded).",
            ["loop"],
            registry=self.registry,
        )
        self.items_set_aside = Gauge(
            "sigap_background_items_set_aside_now",
            "Items each background loop of each process holds set aside now.",
            ["loop"],
            multiprocess_mode="liveall",
            registry=self.registry,
        )
        self.outbox_purged = Counter(
            "sigap_outbox_events_purged",
            "Outbox events deleted by retention (older than outbox.retention_days).",
            registry=self.registry,
        )


class StatementCounter:
    """Counts the SQL statements and transactions an engine runs while attached, by listening
    to its events: the round-trip guard in the tests and the benchmarks' per-alert figures.

    ``statements`` counts every statement sent (an ``executemany`` counts once, as the driver
    sends it as one batch); ``transactions`` counts explicit BEGINs (a statement in autocommit
    mode is its own transaction and is not counted here). ``log`` keeps the start of each
    statement, to show what ran when a bound fails.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.sync_engine
        self.statements = 0
        self.transactions = 0
        self.log: list[str] = []

    def _on_execute(self, *args: Any) -> None:
        self.statements += 1
        self.log.append(" ".join(str(args[2]).split())[:120])

    def _on_begin(self, _connection: Any) -> None:
        self.transactions += 1

    def reset(self) -> None:
        self.statements, self.transactions = 0, 0
        self.log.clear()

    def __enter__(self) -> StatementCounter:
        event.listen(self._engine, "before_cursor_execute", self._on_execute)
        event.listen(self._engine, "begin", self._on_begin)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self._engine, "before_cursor_execute", self._on_execute)
        event.remove(self._engine, "begin", self._on_begin)


def count_database_work(engine: AsyncEngine, metrics: Metrics) -> None:
    """Feed ``sigap_db_statements`` and ``sigap_db_transactions`` from the engine's events, for
    the life of the engine: what an idle process or an alert costs, read from ``/metrics``."""
    statements, transactions = metrics.db_statements, metrics.db_transactions
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *_: statements.inc())
    event.listen(engine.sync_engine, "begin", lambda *_: transactions.inc())


# --- Logging configuration at start-up -----------------------------------------------------
# Kept apart from the metrics above: uvicorn configures only its own loggers, so without this
# every ``sigap.*`` record below WARNING reached Python's last-resort handler and was dropped
# (the default ``log`` notifier's messages among them).

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _SigapHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler this module installs (recognised so a second call adds no second one)."""


def configure_logging(level: str) -> None:
    """Send the application's loggers (``sigap.*``) to standard error at ``level`` (the
    ``SIGAP_LOG_LEVEL`` setting, INFO by default). Idempotent: every worker process, and every
    app a test builds, calls it. A deployment with its own logging configuration (handlers on
    ``sigap``) keeps it."""
    logger = logging.getLogger("sigap")
    logger.setLevel(level.upper())
    if any(isinstance(h, _SigapHandler) for h in logger.handlers):
        return
    if logger.handlers:
        return  # configured by the operator
    handler = _SigapHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger.addHandler(handler)
    # Records still propagate: a root handler (pytest's capture, an operator's) sees them too.

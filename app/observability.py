"""Prometheus metrics of one process (each process serves its own ``/metrics``)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


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
            registry=self.registry,
        )
        self.requests_in_flight = Gauge(
            "sigap_http_requests_in_flight",
            "HTTP requests being served by this process (the overload signal, with the pool).",
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
            "Notification sends by outcome (sent; retried: every provider failed, tried again "
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
            registry=self.registry,
        )
        self.alerts_by_state = Gauge(
            "sigap_alerts", "Alerts in the database by state.", ["state"], registry=self.registry
        )
        self.sla_clocks = Gauge(
            "sigap_sla_clocks_running",
            "SLA clocks still running, by status (running, warning).",
            ["status"],
            registry=self.registry,
        )
        self.sla_breaches = Gauge(
            "sigap_sla_breaches",
            "SLA clocks breached (drills and accidental presses excluded), by clock.",
            ["clock"],
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
            registry=self.registry,
        )
        self.dispatch_queue_depth = Gauge(
            "sigap_dispatch_queue_depth",
            "Dispatcher tasks due now and not yet done.",
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

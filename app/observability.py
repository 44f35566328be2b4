"""Prometheus metrics of one process (each process serves its own ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
        self.database_unavailable = Counter(
            "sigap_database_unavailable",
            "Requests answered 503 because the database could not be reached.",
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

"""Prometheus metrics, and the core's :class:`~payment_core.services.Observer` fed into them.

Each :class:`Metrics` owns its registry (not the global one), so several apps in one test
process never collide. Under ``serve --workers N`` (``PROMETHEUS_MULTIPROC_DIR`` set before
prometheus_client is imported) every process writes its samples to that directory and
``/metrics`` renders them summed over all the processes; the outbox gauges, set at each
scrape, show the most recent scrape's figures. Labels are bounded: routes are templates
(``/api/v1/payments/{id}``), never raw paths; providers, operations, outcomes and statuses
are small fixed sets.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

__all__ = [
    "CONTENT_TYPE_LATEST",
    "MULTIPROC_ENV",
    "Metrics",
    "PrometheusObserver",
]

#: Where every process of ``serve --workers N`` writes its samples (Prometheus' own name).
MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

#: Something that tells the outbox's backlog: ``(pending events, age of the oldest in seconds)``.
OutboxProbe = Callable[[], Awaitable[tuple[int, float]]]


class Metrics:
    """Every metric of the service, in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # The ``*_created`` series double every counter for no use here.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.payments = Counter(
            "payments_total",
            "Payments reaching a status (outcome), by provider and status.",
            ["provider", "status"],
            registry=r,
        )
        self.refunds = Counter(
            "refunds_total",
            "Refunds reaching a status (outcome), by provider and status.",
            ["provider", "status"],
            registry=r,
        )
        self.provider_latency = Histogram(
            "provider_call_duration_seconds",
            "Latency of calls to payment providers.",
            ["provider", "operation", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.provider_errors = Counter(
            "provider_call_errors_total",
            "Provider calls that did not succeed, by outcome (declined, unavailable, rejected).",
            ["provider", "operation", "outcome"],
            registry=r,
        )
        self.amount_mismatches = Counter(
            "provider_amount_mismatches_total",
            "Provider replies whose amount or currency differed from the payment's.",
            ["provider"],
            registry=r,
        )
        self.state_conflicts = Counter(
            "provider_state_conflicts_total",
            "Provider reports that money moved for a payment or refund we settled otherwise.",
            ["provider", "entity"],
            registry=r,
        )
        self.webhook_mismatches = Counter(
            "webhook_mismatches_total",
            "Signed webhooks naming a payment, refund or dispute they may not act on "
            "(another provider's, by another provider id, or another amount): ignored.",
            ["provider", "entity"],
            registry=r,
        )
        self.idempotent_replays = Counter(
            "idempotent_replays_total",
            "Responses replayed for a repeated Idempotency-Key.",
            ["route"],
            registry=r,
        )
        self.outbox_pending = Gauge(
            "outbox_pending_events",
            "Committed events not yet published (at the last scrape).",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.outbox_lag = Gauge(
            "outbox_lag_seconds",
            "Age of the oldest committed event not yet published (at the last scrape).",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.observer = PrometheusObserver(self)
        self._outbox_probe: OutboxProbe | None = None

    def set_outbox_probe(self, probe: OutboxProbe | None) -> None:
        """Where ``/metrics`` asks for the outbox backlog before rendering."""
        self._outbox_probe = probe

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_latency.labels(method, route, str(status)).observe(seconds)

    async def render(self) -> bytes:
        """The Prometheus text exposition, with the outbox figures refreshed first."""
        if self._outbox_probe is not None:
            try:
                pending, lag = await self._outbox_probe()
            except Exception:
                pending, lag = -1, -1.0
            self.outbox_pending.set(pending)
            self.outbox_lag.set(lag)
        directory = os.environ.get(MULTIPROC_ENV)
        if directory:
            from prometheus_client.multiprocess import MultiProcessCollector  # noqa: PLC0415

            every_process = CollectorRegistry()
            MultiProcessCollector(every_process, directory)  # type: ignore[no-untyped-call]
            return generate_latest(every_process)
        return generate_latest(self.registry)


class PrometheusObserver:
    """The core's observer hooks as Prometheus counters and histograms."""

    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    @property
    def metrics(self) -> Metrics:
        return self._m

    def payment_outcome(self, provider: str, status: str) -> None:
        self._m.payments.labels(provider, status).inc()

    def refund_outcome(self, provider: str, status: str) -> None:
        self._m.refunds.labels(provider, status).inc()

    def provider_call(self, provider: str, operation: str, outcome: str, seconds: object) -> None:
        value = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)  # type: ignore[arg-type]
        self._m.provider_latency.labels(provider, operation, outcome).observe(value)
        if outcome != "ok":
            self._m.provider_errors.labels(provider, operation, outcome).inc()

    def amount_mismatch(self, provider: str) -> None:
        self._m.amount_mismatches.labels(provider).inc()

    def state_conflict(self, provider: str, entity: str) -> None:
        self._m.state_conflicts.labels(provider, entity).inc()

    def webhook_mismatch(self, provider: str, entity: str) -> None:
        self._m.webhook_mismatches.labels(provider, entity).inc()

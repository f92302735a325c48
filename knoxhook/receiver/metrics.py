"""``GET /metrics``: the receiver's counters in the Prometheus text format.

One registry per receiver (not prometheus-client's global one), so several receivers in
one process (tests, the TUI) count apart. What to alert on is in docs/deploy.md.
"""

from __future__ import annotations

from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5)


class ReceiverMetrics:
    """Callbacks by verdict and reason, handling and verification latency, hand-offs in
    flight, certificate refreshes by outcome."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.callbacks = Counter(
            "knoxhook_callbacks",
            "Callbacks answered, by verdict and reason (reason is empty when accepted).",
            ["verdict", "reason"],
            registry=self.registry,
        )
        self.handling = Histogram(
            "knoxhook_callback_seconds",
            "Time from the request's headers to its answer.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.verify = Histogram(
            "knoxhook_verify_seconds",
            "Time spent verifying the signature and body.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.forwarding = Gauge(
            "knoxhook_forward_in_flight",
            "Callbacks being handed to --forward-to's app right now.",
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "knoxhook_outbox_pending",
            "Callbacks in the outbox not yet delivered to --forward-to's app.",
            registry=self.registry,
        )
        self.outbox_oldest = Gauge(
            "knoxhook_outbox_oldest_seconds",
            "Age of the oldest undelivered callback in the outbox (0 when none).",
            registry=self.registry,
        )
        self.dead_letters = Gauge(
            "knoxhook_outbox_dead_letters",
            "Callbacks in the outbox's dead letters (see `knoxhook callbacks list --dead`).",
            registry=self.registry,
        )
        self.deliveries = Counter(
            "knoxhook_deliveries",
            "Delivery attempts from the outbox, by outcome (delivered, retry, dead_lettered).",
            ["outcome"],
            registry=self.registry,
        )
        self.refreshes = Counter(
            "knoxhook_certificate_refreshes",
            "Certificate downloads asked for after a failed signature, by outcome.",
            ["outcome"],
            registry=self.registry,
        )

        self._counted: dict[tuple[str, str], Any] = {}

    def count(self, verdict: str, reason: str | None) -> None:
        """One more callback answered: ``callbacks{verdict, reason}`` (the labelled child
        looked up once per pair, not per callback)."""
        key = (verdict, reason or "")
        child = self._counted.get(key)
        if child is None:
            child = self._counted[key] = self.callbacks.labels(*key)
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

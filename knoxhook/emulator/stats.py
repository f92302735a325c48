"""Counters that let tests and benchmarks prove what clients did."""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

from knoxhook import wire

MAX_KEYS = 500
_TEMPLATES = [
    (re.compile(rf"^({re.escape(prefix)}{wire.SUBSCRIPTIONS_PATH})/[^/]+$"), r"\1/{subscriptionId}")
    for prefix in (wire.KWN_PREFIX, wire.KWN_LEGACY_PREFIX)
]


def path_template(path: str) -> str:
    """``/kwn/v1/subscriptions/abc`` -> ``/kwn/v1/subscriptions/{subscriptionId}``."""
    for pattern, replacement in _TEMPLATES:
        if pattern.match(path):
            return pattern.sub(replacement, path)
    return path


class Stats:
    """Thread-safe counters: requests per "METHOD template", tokens, deliveries, faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._counters: Counter[str] = Counter()

    def count_request(self, method: str, path: str) -> None:
        key = f"{method} {path_template(path)}"
        with self._lock:
            if key not in self._requests and len(self._requests) >= MAX_KEYS:
                key = f"{method} (other paths)"  # random paths must not grow memory
            self._requests[key] += 1

    def count_fault(self) -> None:
        self.bump("faults_applied")

    def bump(self, name: str, by: int = 1) -> None:
        with self._lock:
            self._counters[name] += by

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._counters.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counters = dict(self._counters)
            requests = dict(sorted(self._requests.items()))
        names = (
            "token_requests",
            "tokens_issued",
            "tokens_refused",
            "tokens_revoked",
            "unauthorized",
            "deliveries",
            "deliveries_failed",
            "delivery_attempts",
            "faults_applied",
        )
        snapshot: dict[str, Any] = {name: counters.get(name, 0) for name in names}
        snapshot["requests"] = requests
        snapshot["requests_total"] = sum(requests.values())
        return snapshot

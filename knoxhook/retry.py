"""When and how long to wait before trying an HTTP request again.

Shared by ``knoxhook.client`` (API calls) and ``knoxhook.tokens`` (token fetches).
Pure: no I/O, no httpx2; the caller sleeps (``sleep=`` is injected in tests).

Knox documents 429 (too many requests) and 5xx (knox-api.md §3) but no retry rules, so
knoxhook retries 429, 502, 503, 504 and connection errors with capped exponential
backoff and jitter, and honours ``Retry-After`` (seconds or an HTTP date).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Final

RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
# A 429 means the server refused to act; 502/503/504 may come from a proxy after the
# origin got the request, so for a non-idempotent request they are ambiguous.
SAFE_RETRY_STATUSES: Final = frozenset({429})


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` counts the first try: 4 means up to 3 retries.

    The n-th retry waits ``min(max_delay, base_delay * 2**(n-1))``, scaled by a random
    factor in [0.5, 1] (jitter), unless the server sent ``Retry-After``: then exactly
    that. A ``Retry-After`` above ``max_retry_after`` is not waited for: the request
    fails and says how long Knox asked to wait.
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    jitter: bool = True
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, retry_number: int) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based)."""
        delay = min(self.max_delay, self.base_delay * 2.0 ** max(retry_number - 1, 0))
        if self.jitter:
            delay *= self.rng.uniform(0.5, 1.0)
        return delay


NO_RETRY: Final = RetryPolicy(attempts=1)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)

"""When and how long to wait before trying a request again, and the one retry loop.

``retrying(policy, attempt)`` (and ``retrying_async`` for a coroutine) is the only retry
loop in knoxhook: the API client, the token fetch and the emulator's delivery each say,
per attempt, what failed and whether it may be retried (``raise RetryLater(error,
retry_after)``); the loop decides whether and how long to wait. No I/O, no httpx2;
``sleep=`` is injected in tests. (stamina would do it too, but imports tenacity and
costs 45-70 ms, more than ``knoxhook --help`` has to spare.)

Knox documents 429 (too many requests) and 5xx (knox-api.md §3) but no retry rules, so
knoxhook retries 429, 502, 503, 504 and connection errors with capped exponential
backoff and jitter, and honours ``Retry-After`` (seconds or an HTTP date).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Final, TypeVar

T = TypeVar("T")

# ``--verbose`` shows this logger's INFO lines: "retrying GET /x in 1.2 s (503, attempt 2 of 4)"
log = logging.getLogger("knoxhook.retry")

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


class RetryLater(Exception):
    """An attempt failed in a way that may be retried.

    ``error`` is what the caller sees when no retry is left (the last attempt, or a
    ``retry_after`` longer than the policy waits for); ``retry_after`` is the wait the
    server asked for (None: the policy's backoff).
    """

    def __init__(
        self, error: BaseException, retry_after: float | None = None, *, reason: str = ""
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after
        self.reason = reason  # for --verbose: "503", "timed out after 5 s", "ConnectError"


def _wait(policy: RetryPolicy, number: int, later: RetryLater, what: str | None) -> float:
    """Seconds to wait after failed attempt ``number``; raises ``later.error`` when no
    retry is left. With ``what`` ("GET /kwn/v1/subscriptions"), says so (``--verbose``)."""
    wait = later.retry_after
    if number >= policy.attempts or (wait is not None and wait > policy.max_retry_after):
        raise later.error from None
    wait = policy.backoff(number) if wait is None else wait
    if what:
        why = f"{later.reason}, " if later.reason else ""
        log.info(
            "retrying %s in %.1f s (%sattempt %d of %d)", what, wait, why, number + 1,
            policy.attempts,
        )  # fmt: skip
    return wait


def retrying(
    policy: RetryPolicy,
    attempt: Callable[[int], T],
    *,
    sleep: Callable[[float], None] = time.sleep,
    what: str | None = None,
) -> T:
    """``attempt(1)``, then ``attempt(2)``... until one returns. An attempt that raises
    ``RetryLater`` is tried again after the backoff (or its ``retry_after``), up to
    ``policy.attempts`` in all; any other exception ends the loop at once. ``what``
    names the request for the INFO line each retry logs (``--verbose``)."""
    number = 1
    while True:
        try:
            return attempt(number)
        except RetryLater as later:
            sleep(_wait(policy, number, later, what))
        number += 1


async def retrying_async(
    policy: RetryPolicy,
    attempt: Callable[[int], Awaitable[T]],
    *,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    what: str | None = None,
) -> T:
    """``retrying`` for a coroutine; ``sleep`` defaults to ``asyncio.sleep``."""
    if sleep is None:
        import asyncio

        sleep = asyncio.sleep
    number = 1
    while True:
        try:
            return await attempt(number)
        except RetryLater as later:
            await sleep(_wait(policy, number, later, what))
        number += 1


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

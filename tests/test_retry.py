"""The one retry loop (knoxhook.retry.retrying / retrying_async)."""

from __future__ import annotations

import asyncio

import pytest

from knoxhook.retry import RetryLater, RetryPolicy, retrying, retrying_async

POLICY = RetryPolicy(attempts=3, base_delay=0.5, jitter=False, max_retry_after=60.0)


class Flaky:
    """Fails (retryably) ``failures`` times with ``retry_after``, then answers."""

    def __init__(self, failures: int, retry_after: float | None = None) -> None:
        self.failures, self.retry_after, self.calls = failures, retry_after, []

    def __call__(self, number: int) -> str:
        self.calls.append(number)
        if len(self.calls) <= self.failures:
            raise RetryLater(OSError(f"failed attempt {number}"), self.retry_after)
        return f"ok after {number}"


def test_retries_with_the_policys_backoff_until_an_attempt_answers() -> None:
    slept: list[float] = []
    flaky = Flaky(2)
    assert retrying(POLICY, flaky, sleep=slept.append) == "ok after 3"
    assert flaky.calls == [1, 2, 3]
    assert slept == [0.5, 1.0]  # base_delay * 2**(n-1)


def test_the_last_attempts_error_is_raised_when_no_retry_is_left() -> None:
    slept: list[float] = []
    with pytest.raises(OSError, match="failed attempt 3"):
        retrying(POLICY, Flaky(5), sleep=slept.append)
    assert slept == [0.5, 1.0]


def test_retry_after_is_waited_exactly_unless_longer_than_the_policy_waits() -> None:
    slept: list[float] = []
    assert retrying(POLICY, Flaky(1, retry_after=7.0), sleep=slept.append) == "ok after 2"
    assert slept == [7.0]
    too_long = Flaky(1, retry_after=120.0)
    with pytest.raises(OSError, match="failed attempt 1"):
        retrying(POLICY, too_long, sleep=slept.append)
    assert too_long.calls == [1]
    assert slept == [7.0]


def test_any_other_exception_ends_the_loop_at_once() -> None:
    calls: list[int] = []

    def refused(number: int) -> str:
        calls.append(number)
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        retrying(POLICY, refused, sleep=lambda s: pytest.fail("slept"))
    assert calls == [1]


def test_the_async_loop_behaves_the_same() -> None:
    slept: list[float] = []
    flaky = Flaky(2)

    async def attempt(number: int) -> str:
        return flaky(number)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    assert asyncio.run(retrying_async(POLICY, attempt, sleep=sleep)) == "ok after 3"
    assert slept == [0.5, 1.0]
    with pytest.raises(OSError, match="failed attempt 3"):
        asyncio.run(retrying_async(POLICY, _always_failing, sleep=sleep))
    assert slept == [0.5, 1.0, 0.5, 1.0]


async def _always_failing(number: int) -> str:
    raise RetryLater(OSError(f"failed attempt {number}"))

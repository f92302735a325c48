"""The certificate refresher: throttle, backoff after a failed download, the timer."""

from __future__ import annotations

import asyncio

import pytest
from cryptography import x509

from knoxhook.errors import TransportError
from knoxhook.receiver.rotation import Refresher
from tests.receiver.signing import Signer


class Provider:
    refreshable = True

    def __init__(self, certs: list[x509.Certificate], fail: int = 0) -> None:
        self.certs, self.fail, self.downloads = certs, fail, 0
        self.next: list[x509.Certificate] | None = None

    def current(self) -> list[x509.Certificate]:
        return self.certs

    def refresh(self) -> list[x509.Certificate]:
        self.downloads += 1
        if self.fail:
            self.fail -= 1
            raise TransportError("Knox is down")
        if self.next is not None:
            self.certs = self.next
        return self.certs


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.asyncio
async def test_a_refresh_is_throttled_after_success_and_retried_soon_after_failure() -> None:
    provider = Provider([Signer.create().cert], fail=2)
    clock = Clock()
    refresher = Refresher(provider, min_interval=300, backoff=1.0, clock=clock)
    assert (await refresher.after_failure(0)).outcome == "failed"
    assert (await refresher.after_failure(0)).outcome == "failed"  # within the 1 s backoff
    assert provider.downloads == 1
    clock.now += 1.1
    assert (await refresher.after_failure(0)).outcome == "failed"  # second failure: 2 s
    clock.now += 1.5
    assert provider.downloads == 2
    assert (await refresher.after_failure(0)).outcome == "failed"
    clock.now += 1.0
    assert (await refresher.after_failure(0)).outcome == "unchanged"  # Knox is back
    assert (await refresher.after_failure(0)).outcome == "throttled"  # 5 minutes now
    assert provider.downloads == 3
    provider.next = [Signer.create().cert]
    clock.now += 301
    refreshed = await refresher.after_failure(0)
    assert refreshed.outcome == "refreshed"
    assert refreshed.rotation["old"] != refreshed.rotation["new"]
    # a request that failed with the old certificates retries with the new ones
    assert (await refresher.after_failure(0)).outcome == "refreshed"
    assert provider.downloads == 4


@pytest.mark.asyncio
async def test_the_timer_downloads_on_its_own_and_backs_off_after_a_failure() -> None:
    provider = Provider([Signer.create().cert], fail=1)
    provider.next = [Signer.create().cert]
    refresher = Refresher(provider, every=0.3, backoff=0.05, min_interval=1.0)
    task = asyncio.create_task(refresher.run_timer())
    await asyncio.sleep(1.0)  # 0.3 s: fails; +0.05 s: the retry succeeds; +0.3 s: again...
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert provider.downloads >= 3
    assert refresher.generation == 1  # the new certificate was picked up once
    assert refresher.failures == 0

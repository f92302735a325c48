"""Certificate rotation for the receiver: download the certificate again when a
signature fails, without letting forgeries lock genuine callbacks out.

When a callback fails as ``bad_signature`` or ``certificate_expired``, Knox may have
rotated its key: the receiver asks the refresher, which downloads again at most once
every ``min_interval`` seconds (so a flood of forgeries cannot make it hammer Knox).
While a download is throttled or has failed, the callback is answered 503, not 400:
Knox retries a 503, and a genuine callback signed with a new key is then accepted once
the download has succeeded (issue 13.4, "rotation lock-out"). A failed download may be
retried after a short backoff (1, 2, 4 ... s, capped at ``min_interval``); a timer also
refreshes every ``every`` seconds, so a rotation is usually picked up before the first
callback signed with the new key arrives.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from starlette.concurrency import run_in_threadpool

from knoxhook.errors import KnoxhookError
from knoxhook.signature import trusted_keys

if TYPE_CHECKING:
    from cryptography import x509


class CertificatesProvider(Protocol):
    """Where the receiver gets its trusted certificates (``knoxhook.receiver.certificates``)."""

    refreshable: bool

    def current(self) -> list[x509.Certificate]: ...

    def refresh(self) -> list[x509.Certificate]: ...


def fingerprints(certs: Sequence[x509.Certificate]) -> list[str]:
    return [k.fingerprint for k in trusted_keys(certs)]


@dataclass
class Refresh:
    """What asking for a refresh gave: ``refreshed`` (new certificates: verify again),
    ``unchanged``, ``throttled`` or ``failed``."""

    outcome: str
    rotation: dict[str, list[str]] = field(default_factory=dict)


class Refresher:
    """Downloads the certificates again on demand (throttled) and on a timer."""

    def __init__(
        self,
        provider: CertificatesProvider,
        *,
        min_interval: float = 300.0,
        every: float = 6 * 3600.0,
        backoff: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.min_interval = min_interval
        self.every = every
        self.backoff = backoff
        self.clock = clock
        self.generation = 0  # bumped on every download that changed the certificates
        self.failures = 0
        self._next_allowed = float("-inf")
        self._lock: asyncio.Lock | None = None

    async def after_failure(self, seen_generation: int) -> Refresh:
        """A signature failed with the certificates of ``seen_generation``."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.generation != seen_generation:  # another request refreshed meanwhile
                return Refresh("refreshed")
            if self.clock() < self._next_allowed:
                return Refresh("failed" if self.failures else "throttled")
            return await self._download()

    async def _download(self) -> Refresh:
        old = fingerprints(self.provider.current())
        try:
            new_certs = await run_in_threadpool(self.provider.refresh)
        except KnoxhookError as exc:
            self.failures += 1
            wait = min(self.backoff * 2 ** (self.failures - 1), self.min_interval)
            self._next_allowed = self.clock() + wait
            return Refresh("failed", {"old": old, "new": [], "error": [exc.message]})
        self.failures = 0
        self._next_allowed = self.clock() + self.min_interval
        new = fingerprints(new_certs)
        if new == old:
            return Refresh("unchanged", {"old": old, "new": new})
        self.generation += 1
        return Refresh("refreshed", {"old": old, "new": new})

    async def run_timer(self) -> None:
        """Refresh every ``every`` s, sooner (with backoff) after a failed download;
        runs until cancelled (the receiver's lifespan)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        while True:
            wait = self.every
            if self.failures:
                wait = min(self.backoff * 2 ** (self.failures - 1), self.min_interval)
            await asyncio.sleep(wait)
            async with self._lock:
                await self._download()

"""``CachedTokenSource``: the cache, lock and renewal logic both token sources share.

``tokens.TokenManager`` (OAuth bearer tokens) and ``legacy.source.LegacyTokenManager``
(signed ``x-knox-apitoken`` values) differ only in where their token is cached
(``_cache_path``), how a new one is fetched (``_fetch``) and what a trace must never
show (``known_secrets``). The rest lives here, once:

- reading a fresh cached token takes no lock and imports nothing heavy (filelock is
  imported only to fetch), so a command with a cached token starts fast;
- a fetch happens under a file lock next to the cache file: lock, re-read the cache,
  fetch only if still missing or expiring; so N concurrent cold invocations fetch ONE
  token between them;
- a token is renewed ``margin`` seconds (60 s, or half the lifetime for very short
  tokens: ``Token.is_fresh``) before it expires; a refused token is never reused.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from knoxhook import tokencache
from knoxhook.config import Settings
from knoxhook.errors import KnoxhookError, TransportError, UsageError
from knoxhook.httpoptions import HttpOptions
from knoxhook.retry import RetryLater, retrying
from knoxhook.tokencache import Token

# ``--verbose`` shows this logger's INFO lines (renewals; never a token or a secret)
log = logging.getLogger("knoxhook.tokens")


class CachedTokenSource:
    """Tokens for one profile, cached on disk and fetched under a file lock. Subclasses
    supply ``_cache_path``, ``_fetch`` and ``known_secrets``. ``http`` is how their
    requests are made: the caller injects the same ``HttpOptions`` into the
    ``KnoxClient`` that uses these tokens."""

    def __init__(
        self,
        settings: Settings,
        *,
        http: HttpOptions | None = None,
        now: Callable[[], float] = time.time,
        margin: float = 60.0,
        lock_timeout: float = 60.0,
    ) -> None:
        self.settings = settings
        self.http = http if http is not None else HttpOptions.for_settings(settings)
        self._now = now
        self.margin = margin
        self._lock_timeout = lock_timeout
        self.fetches = 0  # network fetches made by this source (tests, benchmarks)

    # --- what differs -------------------------------------------------------------------
    def _cache_path(self) -> Path:
        raise NotImplementedError

    def _fetch(self) -> Token:
        raise NotImplementedError

    def known_secrets(self) -> list[str | None]:
        raise NotImplementedError

    what_is_fetched = "a token"  # "could not get {what_is_fetched} from {token_url}: ..."

    @property
    def token_url(self) -> str:
        raise NotImplementedError

    # --- what is shared -----------------------------------------------------------------
    def _fetch_retrying(self, fetch_once: Callable[[], Token]) -> Token:
        """``fetch_once`` under the one retry loop (a token request changes nothing at
        Knox, so every failure ``_retry_later`` names may be retried)."""
        token = retrying(
            self.http.retry,
            lambda _: fetch_once(),
            sleep=self.http.sleep,
            what=f"POST {self.token_url}",
        )
        self.fetches += 1
        return token

    def _retry_later(
        self, reason: str, status: int | None = None, retry_after: float | None = None
    ) -> RetryLater:
        """A failed token request that may be retried."""
        return RetryLater(
            TransportError(
                f"could not get {self.what_is_fetched} from {self.token_url}: {reason}",
                status=status,
                hint="Knox or the network is having trouble; try again later"
                + (", or allow more time with --timeout SECONDS" if "timed out" in reason else ""),
            ),
            retry_after,
            reason=str(status) if status else reason,
        )

    # --- reading ------------------------------------------------------------------------
    def _read_cached(self) -> Token | None:
        """The cached token, fresh or not (None when missing or not to be trusted)."""
        return tokencache.read_cached(self.settings, self._cache_path())

    def cached(self) -> Token | None:
        """A fresh cached token, or None."""
        token = self._read_cached()
        if token and token.is_fresh(self._now(), self.margin):
            return token
        return None

    def get(self) -> Token:
        """A valid token: the cached one, else one fetched under the lock."""
        token = self.cached()
        if token is not None:
            return token
        if self._read_cached() is not None:
            log.info("token expired (or about to): getting a new one")
        return self.renew(rejected=None)

    def renew(self, rejected: str | None) -> Token:
        """A token other than ``rejected``: under the lock, use one another process just
        cached, else fetch. Called with the rejected token after a 401."""
        if rejected is not None:
            log.info("token refused by Knox: getting a new one")
        with self._lock():
            stored = self._read_cached()
            if stored and rejected and stored.access_token == rejected:
                self.invalidate()  # refused: never reuse it, even if the fetch fails
            token = self.cached()
            if token and token.access_token != rejected:
                return token
            return self.refresh(locked=True)

    def refresh(self, *, locked: bool = False) -> Token:
        """Fetch a new token now and cache it (``auth login`` uses this to prove the
        credentials)."""
        if not locked:
            with self._lock():
                return self.refresh(locked=True)
        token = self._fetch()
        tokencache.write_cached(self.settings, token, self._cache_path())
        return token

    def invalidate(self) -> None:
        """Forget the cached token (after Knox refused it)."""
        self._cache_path().unlink(missing_ok=True)

    # --- locking ------------------------------------------------------------------------
    @contextmanager
    def _lock(self) -> Iterator[None]:
        from filelock import FileLock, Timeout

        path = self._cache_path()
        tokencache.prepare_dir(self.settings)  # an untrusted (planted) dir is replaced first
        lock = FileLock(path.with_suffix(".lock"), timeout=self._lock_timeout, mode=0o600)
        try:
            lock.acquire()
        except Timeout as exc:  # first: filelock's Timeout is an OSError too
            raise KnoxhookError(
                f"timed out waiting for the token lock {lock.lock_file}",
                hint="another knoxhook process is fetching a token; try again",
            ) from exc
        except OSError as exc:  # e.g. a cache directory we may not write to
            raise UsageError(
                f"cannot lock the token cache {lock.lock_file}: {exc.strerror or exc}",
                hint="check it, or point KNOXHOOK_CACHE_DIR elsewhere",
            ) from exc
        try:
            yield
        finally:
            lock.release()

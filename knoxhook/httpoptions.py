"""How every httpx2 client of knoxhook is built: one ``HttpOptions``, injected.

One object holds what every request shares: the base URL, the timeout, the User-Agent,
the ``--debug`` trace (secrets redacted), the transport (injected in tests) and the retry
policy. The CLI builds it once per command (``cli/clients.py``) and injects the SAME
object into ``TokenManager`` and ``KnoxClient``, so token and API requests cannot drift
apart; any other client is made from it too:

- ``HttpOptions.client()``: a sync ``httpx2.Client`` (``KnoxClient``, the token revoke,
  ``knoxhook trigger``, the demo's replay);
- ``HttpOptions.async_client()``: an ``httpx2.AsyncClient`` (the receiver's forwarder,
  the emulator's delivery), with the same trace as async event hooks;
- ``HttpOptions.client_kwargs()``: the same as keyword arguments, for a client someone
  else constructs (authlib's ``OAuth2Client`` for the token fetch).

``secrets=`` names what the trace must never show (a callable, as the token changes
while a client lives). Imports no httpx2 until a client is made (token reads stay fast).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from knoxhook import __version__
from knoxhook.retry import RetryPolicy

if TYPE_CHECKING:
    import httpx2

    from knoxhook.config import Settings
    from knoxhook.httptrace import Trace

USER_AGENT: Final = f"knoxhook/{__version__}"

Secrets = Callable[[], Iterable[str | None]]


def no_secrets() -> tuple[str, ...]:
    """For a client that carries no secret (``trigger``, a forwarder)."""
    return ()


@dataclass(frozen=True)
class HttpOptions:
    """What an httpx2 client of knoxhook is built with."""

    base_url: str | None = None  # None: the client is given absolute URLs
    timeout: float = 30.0  # seconds, connect and each read/write
    user_agent: str = USER_AGENT
    trace: Trace | None = None  # receives the --debug lines, secrets redacted
    transport: httpx2.BaseTransport | None = None  # None: the network
    async_transport: httpx2.AsyncBaseTransport | None = None  # for async_client()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep  # between retries (injected in tests)

    @classmethod
    def for_settings(cls, settings: Settings, **options: Any) -> HttpOptions:
        """Options for the Knox API of ``settings``: its base URL, and its timeout
        (``--timeout`` > ``KNOXHOOK_TIMEOUT`` > the profile's) unless ``options`` gives
        one; ``options`` as fields."""
        if settings.timeout is not None:
            options.setdefault("timeout", settings.timeout)
        return cls(base_url=settings.base_url, **options)

    def client_kwargs(
        self,
        *,
        secrets: Secrets = no_secrets,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Keyword arguments for ``httpx2.Client``; ``secrets`` are redacted from the trace."""
        options = self._common(headers, timeout)
        if self.transport is not None:
            options["transport"] = self.transport
        if self.trace is not None:
            from knoxhook.httptrace import HttpTracer

            options["event_hooks"] = HttpTracer(self.trace, secrets).hooks()
        return options

    def client(
        self,
        *,
        secrets: Secrets = no_secrets,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.Client:
        """A sync client: base URL, timeout (``timeout`` overrides it), User-Agent plus
        ``headers``, transport, trace. Close it (``with options.client() as http:``)."""
        import httpx2

        return httpx2.Client(
            auth=auth, **self.client_kwargs(secrets=secrets, headers=headers, timeout=timeout)
        )

    def async_client(
        self,
        *,
        secrets: Secrets = no_secrets,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        verify: Any = True,
        trust_env: bool = True,
    ) -> httpx2.AsyncClient:
        """An async client with the same options (``async_transport`` in tests); its
        trace runs as async event hooks. ``verify`` (an SSL context, to reuse one) and
        ``trust_env`` (False: no proxy from the environment) go to ``httpx2.AsyncClient``.
        Redirects are not followed. Close it (``async with`` or ``aclose()``)."""
        import httpx2

        options = self._common(headers, timeout)
        options |= {"verify": verify, "trust_env": trust_env, "follow_redirects": False}
        if self.async_transport is not None:
            options["transport"] = self.async_transport
        if self.trace is not None:
            from knoxhook.httptrace import HttpTracer

            options["event_hooks"] = HttpTracer(self.trace, secrets).async_hooks()
        return httpx2.AsyncClient(**options)

    def _common(self, headers: Mapping[str, str] | None, timeout: float | None) -> dict[str, Any]:
        options: dict[str, Any] = {
            "timeout": self.timeout if timeout is None else timeout,
            "headers": {"User-Agent": self.user_agent, **(headers or {})},
        }
        if self.base_url is not None:
            options["base_url"] = self.base_url
        return options

"""How knoxhook's HTTP clients are set up, in one place for API calls and token fetches.

``KnoxClient`` and ``TokenManager`` take the same options (transport, retry policy,
sleep, ``--debug`` trace, timeout): the token manager keeps them as an ``HttpOptions``
and the API client reuses that one object, so both speak with the same User-Agent,
timeout, transport and redacted trace. Imports no httpx2 (token reads stay fast).
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

    from knoxhook.httptrace import Trace

USER_AGENT: Final = f"knoxhook/{__version__}"


@dataclass(frozen=True)
class HttpOptions:
    """What an httpx2 client of knoxhook is built with; injected in tests."""

    transport: httpx2.BaseTransport | None = None  # None: the network
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep  # between retries
    trace: Trace | None = None  # receives the --debug lines
    timeout: float = 30.0

    def client_kwargs(
        self,
        secrets: Callable[[], Iterable[str | None]],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Keyword arguments for ``httpx2.Client``; ``secrets`` are redacted from the trace."""
        options: dict[str, Any] = {
            "timeout": self.timeout,
            "headers": {"User-Agent": USER_AGENT, **(headers or {})},
        }
        if self.transport is not None:
            options["transport"] = self.transport
        if self.trace is not None:
            from knoxhook.httptrace import HttpTracer

            options["event_hooks"] = HttpTracer(self.trace, secrets).hooks()
        return options

"""Posting a kept callback to the user's app (``--forward-to``), in every hand-off mode.

What the app gets (``handoff_headers``): the bytes kept (``X-Knoxhook-Body`` says
whether those are the bytes received or the signed bytes), Knox's ``Content-Type``,
``X-WSM-SIGNATURE``, ``X-WSM-TRACEID`` and ``x-knox-nonce``, ``X-Knoxhook-Verified``
(the signed form that matched) and ``Idempotency-Key`` (the nonce): delivery is
at-least-once, so the app dedupes on that key.

``Forwarder.post`` makes one attempt and says what happened (``Attempt``); the
synchronous mode (``handoff.SyncHandoff``) answers Knox from it, the outbox
(``handoff.delivery``) retries from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from knoxhook import wire
from knoxhook.httpoptions import HttpOptions
from knoxhook.retry import parse_retry_after

if TYPE_CHECKING:
    import httpx2

FORWARDED_HEADERS: Final = (wire.H_SIGNATURE, wire.H_TRACE_ID, wire.H_NONCE)
IDEMPOTENCY_KEY: Final = "Idempotency-Key"  # the IETF httpapi draft's name, as Stripe's


def handoff_headers(
    headers: Mapping[str, str], form: str, source: str, key: str | None
) -> dict[str, str]:
    """The headers sent to the app for a callback received with (lower-case) ``headers``."""
    out = {"Content-Type": headers.get("content-type", wire.CALLBACK_CONTENT_TYPE)}
    for name in FORWARDED_HEADERS:
        value = headers.get(name.lower())
        if value is not None:
            out[name] = value
    out["X-Knoxhook-Verified"] = form
    out["X-Knoxhook-Body"] = source  # "received" | "signed": which bytes these are
    if key:
        out[IDEMPOTENCY_KEY] = key
    return out


def handed_on(forward: Mapping[str, Any]) -> bool:
    """Did the app take the callback? Not on a connection error or a 5xx."""
    status = forward.get("status")
    return status is not None and status < 500


@dataclass(frozen=True)
class Attempt:
    """One POST to the app: its status (None: no answer), ``Retry-After``, the error."""

    url: str
    status: int | None
    retry_after: float | None = None
    error: str | None = None

    def as_record(self) -> dict[str, Any]:
        return {"url": self.url, "status": self.status, "error": self.error}


class Forwarder:
    """One pooled HTTP client for the receiver's lifetime (opened and closed by its
    lifespan), from ``HttpOptions`` like every client of knoxhook (User-Agent, trace)."""

    def __init__(self, url: str, timeout: float = 10.0, options: HttpOptions | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.options = options or HttpOptions()
        self._client: httpx2.AsyncClient | None = None

    async def open(self) -> None:
        if self._client is None:
            self._client = self.options.async_client(timeout=self.timeout)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def post(self, body: bytes, headers: Mapping[str, str]) -> Attempt:
        """POST ``body`` with ``headers`` (``handoff_headers``) to the app, once."""
        import httpx2

        if self._client is None:  # used without its lifespan (a bare ASGI mount)
            await self.open()
        assert self._client is not None
        try:
            response = await self._client.post(self.url, content=body, headers=dict(headers))
        except httpx2.HTTPError as exc:
            return Attempt(self.url, None, None, f"{type(exc).__name__}: {exc}")
        wait = parse_retry_after(response.headers.get("retry-after"))
        return Attempt(self.url, response.status_code, wait)

"""``--forward-to``: hand each kept callback to the user's app, synchronously.

The app's answer decides Knox's: a connection error or a 5xx means the app did not take
the callback, so the receiver answers 502 and releases the claim (Knox's resend is then
accepted and handed on again); a 4xx is the app's own refusal of a genuine callback,
which a resend would not change, so Knox gets 200.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from knoxhook import wire
from knoxhook.httpoptions import HttpOptions

if TYPE_CHECKING:
    import httpx2

FORWARDED_HEADERS = (wire.H_SIGNATURE, wire.H_TRACE_ID, wire.H_NONCE)


def handed_on(forward: Mapping[str, Any]) -> bool:
    """Did the app take the callback? Not on a connection error or a 5xx."""
    status = forward.get("status")
    return status is not None and status < 500


class Forwarder:
    """One pooled HTTP client for the receiver's lifetime (opened and closed by its
    lifespan), from ``HttpOptions`` like every client of knoxhook (User-Agent, trace)."""

    def __init__(self, url: str, timeout: float = 10.0, options: HttpOptions | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.options = options or HttpOptions()
        self._client: httpx2.AsyncClient | None = None

    async def open(self) -> None:
        self._client = self.options.async_client(timeout=self.timeout)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def forward(
        self, body: bytes, headers: Mapping[str, str], form: str, source: str
    ) -> dict[str, Any]:
        """POST ``body`` with Knox's headers; ``{url, status, error}``."""
        import httpx2

        if self._client is None:  # used without its lifespan (a bare ASGI mount)
            await self.open()
        assert self._client is not None
        out = {"Content-Type": headers.get("content-type", wire.CALLBACK_CONTENT_TYPE)}
        for name in FORWARDED_HEADERS:
            value = headers.get(name.lower())
            if value is not None:
                out[name] = value
        out["X-Knoxhook-Verified"] = form
        out["X-Knoxhook-Body"] = source  # "received" | "signed": which bytes these are
        try:
            response = await self._client.post(self.url, content=body, headers=out)
        except httpx2.HTTPError as exc:
            return {"url": self.url, "status": None, "error": f"{type(exc).__name__}: {exc}"}
        return {"url": self.url, "status": response.status_code, "error": None}

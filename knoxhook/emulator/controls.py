"""Drive a running emulator through its control endpoints (``/_emulator/*``).

``EmulatorControls`` is the one client of those endpoints: ``knoxhook trigger``, the
``knoxhook emulator`` control commands, ``knoxhook demo`` and the test helpers all use
it. Failures are typed ``KnoxhookError``s (never ``AssertionError``), so each caller
gets the documented exit code and a message that names the emulator:

- not reachable: ``TransportError`` (exit 7);
- the control token missing or wrong (an emulator started with ``--allow-remote``):
  ``AuthenticationError`` (exit 4);
- no subscription holds a triggered event: ``NotFoundError`` (exit 6);
- any other refusal: ``ApiError`` (exit 5); a 5xx: ``TransportError``;
- an answer without the Knox error body: ``UsageError`` (that URL is not an emulator).

The ``httpx2.Client`` is injected (the caller owns its timeout, transport and trace).
Imports no httpx2 until a request is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from knoxhook.emulator import CONTROL_PREFIX, CONTROL_TOKEN_ENV, CONTROL_TOKEN_HEADER
from knoxhook.errors import (
    ApiError,
    AuthenticationError,
    NotFoundError,
    TransportError,
    UsageError,
)

if TYPE_CHECKING:
    import httpx2


class EmulatorControls:
    """The control endpoints of the emulator at ``base_url``."""

    def __init__(self, base_url: str, http: httpx2.Client, *, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http
        self._headers = {CONTROL_TOKEN_HEADER: token} if token else {}

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """``METHOD /_emulator{path}``; the decoded JSON answer (None when empty)."""
        import httpx2

        url = f"{self.base_url}{CONTROL_PREFIX}{path}"
        try:
            response = self._http.request(method, url, json=body, headers=self._headers)
        except httpx2.HTTPError as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise TransportError(
                f"cannot reach the emulator at {self.base_url}: {detail}",
                hint="start it with `knoxhook emulator run`, or pass its URL with --emulator",
            ) from None
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = None
        if 200 <= response.status_code < 300 and (data is not None or not response.content):
            return data
        raise self._refusal(response.status_code, data)

    def _refusal(self, status: int, data: Any) -> Exception:
        text = data.get("data") if isinstance(data, dict) else None
        name = data.get("message") if isinstance(data, dict) else None
        if not isinstance(text, str):
            return UsageError(
                f"{self.base_url} does not look like a knoxhook emulator (HTTP {status})",
                hint="pass the URL `knoxhook emulator run` printed, with --emulator",
            )
        if status == 401:
            return AuthenticationError(
                f"the emulator refused the control request: {text}",
                hint=f"set {CONTROL_TOKEN_ENV} to the control token the emulator printed "
                "at start-up",
            )
        if status == 404 and name == "SUBSCRIPTION_NOT_FOUND":
            return NotFoundError(text, status=404, knox_name=name)
        if status >= 500:
            return TransportError(f"the emulator failed: {text}", status=status)
        return ApiError(f"the emulator refused: {text}", status=status, knox_name=name)

    # --- events and deliveries --------------------------------------------------------
    def trigger(
        self,
        event: str,
        payload: Mapping[str, Any] | None = None,
        *,
        trace_id: str | None = None,
        signing: str | None = None,
    ) -> dict[str, Any]:
        """Deliver ``event`` to the subscription holding it; the delivery record."""
        body: dict[str, Any] = {"event": event}
        if payload is not None:
            body["payload"] = dict(payload)
        if trace_id is not None:
            body["traceId"] = trace_id
        if signing is not None:
            body["signing"] = str(signing)
        try:
            record: dict[str, Any] = self.request("POST", "/events", body)
        except NotFoundError as exc:
            exc.hint = "subscribe a callback URL to it first: knoxhook subscribe --url URL " + (
                f"--event {event}"
            )
            raise
        return record

    def deliveries(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = self.request("GET", "/deliveries")
        return records

    def clear_deliveries(self) -> None:
        self.request("DELETE", "/deliveries")

    # --- faults -----------------------------------------------------------------------
    def faults(self) -> list[dict[str, Any]]:
        pending: list[dict[str, Any]] = self.request("GET", "/faults")
        return pending

    def add_fault(self, fault: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Inject ``fault`` (``{"path", "status"|"drop"|"delay", ...}``); the pending list."""
        pending: list[dict[str, Any]] = self.request("POST", "/faults", dict(fault))
        return pending

    def clear_faults(self) -> None:
        self.request("DELETE", "/faults")

    # --- certificate, counters, state -------------------------------------------------
    def certificate(self) -> dict[str, str]:
        described: dict[str, str] = self.request("GET", "/certificate")
        return described

    def set_certificate(self, action: str) -> dict[str, str]:
        """Re-issue the certificate (a ``CertAction``); describes the new one."""
        described: dict[str, str] = self.request("POST", "/certificate", {"action": str(action)})
        return described

    def stats(self) -> dict[str, Any]:
        counters: dict[str, Any] = self.request("GET", "/stats")
        return counters

    def reset_stats(self) -> None:
        self.request("POST", "/stats/reset")

    def reset(self) -> None:
        """Forget subscriptions, tokens, deliveries, faults and counters (not the
        certificate)."""
        self.request("POST", "/reset")

    def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("GET", "/health")
        return answer

"""Run the emulator in-process for tests: ``running_emulator()``.

Example::

    from knoxhook.emulator.testing import running_emulator

    with running_emulator() as emu:
        token = httpx2.post(emu.base_url + "/ams/v1/oauth2/token", data={
            "grant_type": "client_credentials",
            "client_id": emu.client_id, "client_secret": emu.client_secret,
        }).json()["access_token"]
        ...
        record = emu.trigger("KDMS_DEVICE_UPLOAD")
        assert emu.stats()["token_requests"] == 1

It serves on 127.0.0.1 with a free port (``knoxhook.serving.serve_in_thread``), with a
fresh state each time unless ``data_dir`` is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knoxhook import wire
from knoxhook.emulator import CONTROL_PREFIX, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET


@dataclass
class EmulatorHandle:
    """A running emulator: its URL, its first client, and shortcuts to its controls."""

    base_url: str
    client_id: str
    client_secret: str
    app: Any = field(repr=False)
    _http: Any = field(default=None, repr=False)

    def _client(self) -> Any:
        """One keep-alive client for the controls (no TLS: the emulator is plain HTTP)."""
        import httpx2

        if self._http is None:
            self._http = httpx2.Client(timeout=60.0, verify=False)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    @property
    def emulator(self) -> Any:
        """The in-process ``Emulator`` (store, certs, stats): for white-box checks."""
        return self.app.emulator

    @property
    def certificate_pem(self) -> bytes:
        """The certificate currently served at ``/kwn/v1/downloadCertificate``."""
        return bytes(self.emulator.certs.pem)

    @property
    def token_url(self) -> str:
        return self.base_url + wire.TOKEN_PATH

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        response = self._client().request(
            method, f"{self.base_url}{CONTROL_PREFIX}{path}", json=body
        )
        if response.status_code >= 400:
            raise AssertionError(
                f"{method} {CONTROL_PREFIX}{path} -> {response.status_code}: {response.text}"
            )
        return response.json() if response.content else None

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._control("GET", "/stats")
        return result

    def reset(self) -> None:
        """Forget subscriptions, tokens, deliveries, faults and counters (fresh state,
        same certificate): lets one emulator serve many tests."""
        self._control("POST", "/reset")

    def reset_stats(self) -> None:
        self._control("POST", "/stats/reset")

    def deliveries(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._control("GET", "/deliveries")
        return result

    def fault(self, **kw: Any) -> None:
        """Inject a fault, e.g. ``fault(path="/kwn/v1/subscriptions", status=503, count=2)``
        or ``fault(path=..., method="POST", drop=True, after=True)``."""
        self._control("POST", "/faults", kw)

    def clear_faults(self) -> None:
        self._control("DELETE", "/faults")

    def trigger(
        self,
        event: str,
        payload: Mapping[str, Any] | None = None,
        trace_id: str | None = None,
    ) -> dict[str, Any]:
        """Deliver ``event`` to the subscription holding it; the delivery record."""
        body: dict[str, Any] = {"event": event}
        if payload is not None:
            body["payload"] = dict(payload)
        if trace_id is not None:
            body["traceId"] = trace_id
        result: dict[str, Any] = self._control("POST", "/events", body)
        return result

    def set_certificate(self, action: str) -> dict[str, str]:
        """One of valid, expire, not-yet-valid, rotate-same-key, rotate-new-key."""
        result: dict[str, str] = self._control("POST", "/certificate", {"action": action})
        return result

    def token(self, scope: str | None = None, expires_in: int | None = None) -> str:
        """A fresh access token for the first client."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if scope is not None:
            form["scope"] = scope
        if expires_in is not None:
            form["expires_in"] = str(expires_in)
        response = self._client().post(self.token_url, data=form)
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token


@contextmanager
def running_emulator(
    *,
    clients: dict[str, str] | None = None,
    signing: str = "padded",
    data_dir: Path | None = None,
    now: Callable[[], float] | None = None,
    cert_state: str | None = None,
    delivery_retries: int = 2,
    delivery_timeout: float = 5.0,
    delivery_backoff: float = 0.05,
) -> Iterator[EmulatorHandle]:
    """An emulator on 127.0.0.1 (free port) until the block ends.

    ``clients`` defaults to the demo client; the handle's ``client_id``/``client_secret``
    are the first client's. ``now`` is the emulator's clock (epoch seconds).
    """
    from knoxhook.emulator.app import create_app
    from knoxhook.emulator.config import EmulatorConfig
    from knoxhook.serving import serve_in_thread

    chosen = dict(clients) if clients else {DEMO_CLIENT_ID: DEMO_CLIENT_SECRET}
    config = EmulatorConfig(
        clients=chosen,
        signing=signing,
        data_dir=data_dir,
        now=now or time.time,
        cert_state=cert_state,
        delivery_retries=delivery_retries,
        delivery_timeout=delivery_timeout,
        delivery_backoff=delivery_backoff,
    )
    app = create_app(config)
    client_id, client_secret = next(iter(chosen.items()))
    try:
        with serve_in_thread(app, "127.0.0.1", 0) as server:
            handle = EmulatorHandle(server.base_url, client_id, client_secret, app)
            try:
                yield handle
            finally:
                handle.close()
    finally:
        app.emulator.store.close()

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
from knoxhook.emulator import (
    DEFAULT_SIGNING,
    DELIVERY_BACKOFF,
    DELIVERY_RETRIES,
    DELIVERY_TIMEOUT,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
)
from knoxhook.emulator.controls import EmulatorControls


@dataclass
class EmulatorHandle:
    """A running emulator: its URL, its first client, and shortcuts to its controls
    (``knoxhook.emulator.controls.EmulatorControls``, whose errors are typed)."""

    base_url: str
    client_id: str
    client_secret: str
    app: Any = field(repr=False)
    _http: Any = field(default=None, repr=False)
    control_token: str | None = field(default=None, repr=False)

    def _client(self) -> Any:
        """One keep-alive client for the controls (no TLS: the emulator is plain HTTP)."""
        import httpx2

        if self._http is None:
            self._http = httpx2.Client(timeout=60.0, verify=False)
        return self._http

    @property
    def controls(self) -> EmulatorControls:
        return EmulatorControls(self.base_url, self._client(), token=self.control_token)

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

    def stats(self) -> dict[str, Any]:
        return self.controls.stats()

    def reset(self) -> None:
        """Forget subscriptions, tokens, deliveries, faults and counters (fresh state,
        same certificate): lets one emulator serve many tests."""
        self.controls.reset()

    def reset_stats(self) -> None:
        self.controls.reset_stats()

    def deliveries(self) -> list[dict[str, Any]]:
        return self.controls.deliveries()

    def fault(self, **kw: Any) -> None:
        """Inject a fault, e.g. ``fault(path="/kwn/v1/subscriptions", status=503, count=2)``
        or ``fault(path=..., method="POST", drop=True, after=True)``."""
        self.controls.add_fault(kw)

    def clear_faults(self) -> None:
        self.controls.clear_faults()

    def trigger(
        self,
        event: str,
        payload: Mapping[str, Any] | None = None,
        trace_id: str | None = None,
        signing: str | None = None,
    ) -> dict[str, Any]:
        """Deliver ``event`` to the subscription holding it; the delivery record."""
        return self.controls.trigger(event, payload, trace_id=trace_id, signing=signing)

    def set_certificate(self, action: str) -> dict[str, str]:
        """A ``CertAction``: valid, expired, not-yet-valid, rotate-same-key, rotate-new-key."""
        return self.controls.set_certificate(action)

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
    signing: str = DEFAULT_SIGNING,
    data_dir: Path | None = None,
    now: Callable[[], float] | None = None,
    cert_state: str | None = None,
    delivery_retries: int = DELIVERY_RETRIES,
    delivery_timeout: float = DELIVERY_TIMEOUT,
    delivery_backoff: float = DELIVERY_BACKOFF,
    control_token: str | None = None,
    allow_remote_delivery: bool = False,
) -> Iterator[EmulatorHandle]:
    """An emulator on 127.0.0.1 (free port) until the block ends.

    ``clients`` defaults to the demo client; the handle's ``client_id``/``client_secret``
    are the first client's. ``now`` is the emulator's clock (epoch seconds).
    """
    from knoxhook.emulator.config import EmulatorConfig
    from knoxhook.emulator.runner import run_emulator

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
        control_token=control_token,
        allow_remote_delivery=allow_remote_delivery,
    )
    client_id, client_secret = next(iter(chosen.items()))
    with run_emulator(config) as running:
        handle = EmulatorHandle(
            running.base_url, client_id, client_secret, running.app, control_token=control_token
        )
        try:
            yield handle
        finally:
            handle.close()

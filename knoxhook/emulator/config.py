"""The emulator's configuration: one frozen value handed to ``create_app``."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from knoxhook.emulator import (
    CERT_ACTIONS,
    DEFAULT_SIGNING,
    DELIVERY_BACKOFF,
    DELIVERY_RETRIES,
    DELIVERY_TIMEOUT,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    SIGNING_MODES,
    CertAction,
    SigningMode,
)
from knoxhook.errors import UsageError


def _demo_clients() -> dict[str, str]:
    return {DEMO_CLIENT_ID: DEMO_CLIENT_SECRET}


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator can be told.

    ``clients`` maps client id to secret (fake credentials for local testing only);
    ``now`` is the clock (epoch seconds), injectable so token and certificate expiry
    are testable; ``data_dir`` keeps state in SQLite plus the certificate and its key,
    else state lives in memory. ``cert_state`` is applied at start (None keeps what the
    data dir has, or makes a valid certificate).
    """

    clients: Mapping[str, str] = field(default_factory=_demo_clients)
    signing: str = DEFAULT_SIGNING
    data_dir: Path | None = None
    now: Callable[[], float] = time.time
    cert_state: str | None = None
    delivery_timeout: float = DELIVERY_TIMEOUT
    delivery_retries: int = DELIVERY_RETRIES
    delivery_backoff: float = DELIVERY_BACKOFF
    max_body_bytes: int = 1_000_000
    # Off loopback (issue 14.4): the control endpoints need this token (None: they need
    # none), and deliveries go to other than loopback addresses only when allowed.
    control_token: str | None = field(default=None, repr=False)
    allow_remote_delivery: bool = False
    legacy_clients: Mapping[str, str] | None = None  # identifier -> base64 SPKI; None: demo

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "signing", SigningMode(self.signing))
        except ValueError:
            raise UsageError(
                f"unknown signing mode {self.signing!r}",
                hint="use one of: " + ", ".join(SIGNING_MODES),
            ) from None
        if self.cert_state is not None:
            try:
                object.__setattr__(self, "cert_state", CertAction(self.cert_state))
            except ValueError:
                raise UsageError(
                    f"unknown certificate state {self.cert_state!r}",
                    hint="use one of: " + ", ".join(CERT_ACTIONS),
                ) from None
        if not self.clients:
            raise UsageError("the emulator needs at least one client")
        if self.delivery_retries < 0 or self.delivery_timeout <= 0 or self.delivery_backoff < 0:
            raise UsageError("delivery retries, timeout and backoff must be positive")


def parse_clients(specs: list[str]) -> dict[str, str]:
    """``["id:secret", ...]`` -> ``{"id": "secret"}``; a usage error names a bad entry
    by its client id only (the secret is never echoed)."""
    clients: dict[str, str] = {}
    for spec in specs:
        client_id, sep, secret = spec.strip().partition(":")
        if not sep or not client_id or not secret:
            shown = client_id if sep else "(an entry without ':')"
            raise UsageError(
                f"bad emulator client {shown!r}: expected ID:SECRET",
                hint="for example --client my-client:my-test-secret",
            )
        clients[client_id] = secret
    return clients

"""The status line of the TUI: certificate (subject, days left, expiry) and token.

Reads only local state (the stored or given certificate, the token cache): it never
downloads or fetches anything, so it is cheap to call after every refresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from knoxhook.config import Settings
from knoxhook.errors import KnoxhookError


@dataclass(frozen=True)
class Status:
    """One line of status; ``warning`` colours it (an expired or missing certificate)."""

    text: str
    warning: bool = False


def certificate_status(pem: bytes | None, *, now: datetime | None = None) -> Status:
    """``certificate: CN=... · 668 days left``, or why there is none / it is unusable."""
    from knoxhook import certs

    if pem is None:
        return Status("certificate: none stored (run `knoxhook cert fetch`)", warning=True)
    try:
        info = certs.inspect_pem(pem, now=now)
    except KnoxhookError as exc:
        return Status(f"certificate: unreadable ({exc.message})", warning=True)
    label = f"CN={info.common_name}" if info.common_name else info.subject
    if info.expired:
        # "EXPIRED yesterday", "EXPIRED 3 days ago": the calendar words of `cert show`
        expired = info.when.removeprefix("expired ")
        return Status(f"certificate: {label} EXPIRED {expired}", warning=True)
    if info.not_yet_valid:
        return Status(f"certificate: {label} not valid yet", warning=True)
    warn = info.days_left < certs.WARN_DAYS  # as `knoxhook cert show`
    return Status(f"certificate: {label} · {info.days_left} days left", warn)


def token_status(settings: Settings, *, now: float | None = None) -> str:
    """``token: valid 9m 12s`` / ``token: expired`` / ``token: none cached``."""
    from knoxhook import tokens

    token = tokens.read_cached(settings)
    if token is None:
        return "token: none cached"
    left = int(token.expires_in(time.time() if now is None else now))
    if left <= 0:
        return "token: expired (renewed on the next request)"
    return f"token: valid {left // 60}m {left % 60:02d}s"


def status_provider(settings: Settings, cert_file: Path | None = None) -> Callable[[], Status]:
    """A callable for the app: the certificate (``cert_file`` or the stored one) + token."""

    def read() -> Status:
        from knoxhook import certs

        try:
            pem = cert_file.read_bytes() if cert_file else certs.read_stored(settings)
        except OSError as exc:
            cert = Status(f"certificate: cannot read {cert_file}: {exc.strerror}", True)
        else:
            cert = certificate_status(pem)
        text = f"{cert.text}   {token_status(settings)}   {settings.base_url}"
        return Status(text, cert.warning)

    return read

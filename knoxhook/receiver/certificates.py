"""Certificate providers for the receiver: fixed files, or the stored Knox certificate.

``StoredCertificates`` uses ``knoxhook.certs``: the stored validation certificate when it
is valid, else a download (``ensure_certificate``); ``refresh()`` downloads again, for a
rotation (the receiver calls it once when a signature fails).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from knoxhook.errors import CertificateError, UsageError

if TYPE_CHECKING:
    from cryptography import x509

    from knoxhook.config import Settings


def load_certificate_files(paths: list[Path]) -> list[x509.Certificate]:
    """Every certificate in the PEM (or DER) files ``paths``; a clear error otherwise."""
    from knoxhook.certinfo import load_certificates

    certs: list[x509.Certificate] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read certificate {path}: {exc.strerror or exc}") from exc
        try:
            certs.extend(load_certificates(data))
        except CertificateError as exc:
            raise CertificateError(
                f"{path} is not an X.509 certificate (PEM or DER)",
                hint="pass the Knox validation certificate, e.g. from `knoxhook cert fetch`",
            ) from exc
    return certs


class StoredCertificates:
    """The stored Knox validation certificate, downloaded when missing or expired."""

    refreshable = True

    def __init__(self, settings: Settings) -> None:
        from knoxhook import certs

        self._settings = settings
        self._certs = certs.load_certificates(certs.ensure_certificate(settings))

    def current(self) -> list[x509.Certificate]:
        return self._certs

    def refresh(self) -> list[x509.Certificate]:
        """Download the certificate again (Knox may have rotated it) and use it."""
        from knoxhook import certs

        self._certs = certs.load_certificates(certs.download_valid(self._settings))
        return self._certs

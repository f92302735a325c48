"""What a Knox validation certificate says: parse it, and describe it for people and scripts.

Pure (no disk, no network); ``knoxhook.certs`` stores and downloads. The public-key pin
``spki_sha256`` is base64(SHA-256(DER SubjectPublicKeyInfo)), the ``sha256//<pin>`` form
curl's ``--pinnedpubkey`` takes (why the key, not the certificate: ``knoxhook.certs``).
cryptography is imported only inside functions: ``cert`` commands that do not parse
anything start without it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from knoxhook.errors import CertificateError
from knoxhook.timestamps import rfc3339

if TYPE_CHECKING:
    from cryptography import x509


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """Every certificate in ``pem`` (PEM, or a single DER); CertificateError on garbage."""
    from cryptography import x509

    try:
        if b"-----BEGIN" in pem:
            certs = x509.load_pem_x509_certificates(pem)
        else:
            certs = [x509.load_der_x509_certificate(pem)]
    except ValueError as exc:
        raise CertificateError(
            "not a certificate: expected PEM text with -----BEGIN CERTIFICATE-----",
            hint="check the file, or run `knoxhook cert fetch` to download the real one",
        ) from exc
    if not certs:  # pragma: no cover - cryptography raises instead
        raise CertificateError("no certificate found in the PEM data")
    return certs


def spki_sha256(cert: x509.Certificate) -> str:
    """base64(SHA-256(DER SubjectPublicKeyInfo)): the public-key pin (curl ``sha256//``)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    der = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")


def _name(name: x509.Name) -> str:
    from cryptography.x509.oid import NameOID

    return name.rfc4514_string({NameOID.EMAIL_ADDRESS: "emailAddress"})


def _common_name(name: x509.Name) -> str:
    from cryptography.x509.oid import NameOID

    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


@dataclass(frozen=True)
class CertificateInfo:
    """What a person (or a script, via ``to_json``) needs to know about a certificate."""

    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    sha256_fingerprint: str  # colon-separated upper hex
    spki_sha256: str  # base64, the public-key pin
    expired: bool
    not_yet_valid: bool
    days_left: int  # calendar days (UTC) from today to not_after's day: -1 = yesterday
    common_name: str = ""  # for messages; not in to_json

    def to_json(self) -> dict[str, Any]:
        """Stable keys for ``--json`` (documented in docs/commands.md)."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": rfc3339(self.not_before),
            "not_after": rfc3339(self.not_after),
            "sha256_fingerprint": self.sha256_fingerprint,
            "spki_sha256": self.spki_sha256,
            "expired": self.expired,
            "days_left": self.days_left,
        }

    @property
    def when(self) -> str:
        """The expiry in words, by calendar day (UTC): "expires today", "expires in 12
        days", "expired yesterday", "expired 3 days ago"."""
        days = self.days_left
        if self.expired:
            return {0: "expired today", -1: "expired yesterday"}.get(
                days, f"expired {-days} days ago"
            )
        return {0: "expires today", 1: "expires tomorrow"}.get(days, f"expires in {days} days")

    @property
    def _label(self) -> str:
        return f"CN={self.common_name}" if self.common_name else self.subject

    def check_valid(self) -> None:
        """CertificateError (exit 8) when expired or not yet valid."""
        if self.expired:
            raise CertificateError(
                f"certificate expired on {rfc3339(self.not_after)} "
                f"({self.when.removeprefix('expired ')}): {self._label}",
                hint="run `knoxhook cert fetch` to download the current one",
            )
        if self.not_yet_valid:
            raise CertificateError(
                f"certificate is not valid before {rfc3339(self.not_before)}: {self._label}",
                hint="check the system clock",
            )


def inspect(cert: x509.Certificate, *, now: datetime | None = None) -> CertificateInfo:
    """Subject, issuer, validity, fingerprint and key pin of ``cert`` at ``now``."""
    from cryptography.hazmat.primitives import hashes

    now = (now or datetime.now(UTC)).astimezone(UTC)
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    return CertificateInfo(
        subject=_name(cert.subject),
        issuer=_name(cert.issuer),
        not_before=not_before,
        not_after=not_after,
        sha256_fingerprint=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        spki_sha256=spki_sha256(cert),
        expired=now >= not_after,
        not_yet_valid=now < not_before,
        # by the calendar (UTC), as people count: a certificate that ended yesterday
        # "expired yesterday" (-1), however late yesterday; floor((not_after - now) / 1 day)
        # said -2 for one that ended yesterday morning
        days_left=(not_after.date() - now.date()).days,
        common_name=_common_name(cert.subject),
    )


def inspect_pem(pem: bytes, *, now: datetime | None = None) -> CertificateInfo:
    """``inspect`` of the first (leaf) certificate in ``pem``."""
    return inspect(load_certificates(pem)[0], now=now)

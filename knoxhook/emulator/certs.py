"""The emulator's validation certificate and signing key.

Samsung signs callbacks with the key of the certificate served at
``/kwn/v1/downloadCertificate`` (knox-api.md §4, §5). At first start the emulator makes
an RSA-2048 X.509 v3 certificate with subject ``CN=*.samsungknox.com``, signed by its own
key (issuer ``knoxhook emulator``), and keeps it (and its key, 0600) in the data dir.
It can re-issue it on demand: expired, not yet valid, rotated with the same key (as
Samsung did in 2024) or with a new key.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from knoxhook.emulator import CERT_ACTIONS, CertAction
from knoxhook.errors import UsageError
from knoxhook.files import make_private_dirs, read_private, write_private
from knoxhook.timestamps import rfc3339

KEY_FILE = "signing-key.pem"
CERT_FILE = "certificate.pem"
_DAY = dt.timedelta(days=1)
_LIFETIME = dt.timedelta(days=3 * 365)  # Samsung's certificates last three years


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def issue(
    key: rsa.RSAPrivateKey, not_before: dt.datetime, not_after: dt.datetime
) -> x509.Certificate:
    """A certificate signed by its own ``key`` valid from ``not_before`` to ``not_after``."""
    # The subject is Samsung's (knox-api.md §4); the issuer says it is not Samsung.
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "*.samsungknox.com")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "knoxhook emulator (not Samsung)")])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


class CertificateStore:
    """The current key and certificate; thread-safe; persisted when given a directory."""

    def __init__(self, now: Callable[[], float], directory: Path | None = None) -> None:
        self._now = now
        self._dir = directory
        self._lock = threading.Lock()
        loaded = self._load()
        if loaded is None:
            self._key = new_key()
            self._cert = self._issue_valid(self._key)
            self._save(key_changed=True)
        else:
            self._key, self._cert = loaded

    # --- public ---------------------------------------------------------------------
    @property
    def key(self) -> rsa.RSAPrivateKey:
        with self._lock:
            return self._key

    @property
    def pem(self) -> bytes:
        with self._lock:
            return self._cert.public_bytes(serialization.Encoding.PEM)

    def describe(self) -> dict[str, str]:
        with self._lock:
            cert = self._cert
        spki = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        digest = hashes.Hash(hashes.SHA256())
        digest.update(spki)
        return {
            "serial": format(cert.serial_number, "x"),
            "notBefore": rfc3339(cert.not_valid_before_utc),
            "notAfter": rfc3339(cert.not_valid_after_utc),
            "fingerprintSha256": cert.fingerprint(hashes.SHA256()).hex(),
            "publicKeySha256": digest.finalize().hex(),
        }

    def apply(self, action: str) -> dict[str, str]:
        """Re-issue the certificate: one of ``CertAction``. Returns ``describe()``."""
        try:
            chosen = CertAction(action)
        except ValueError:
            raise UsageError(
                f"unknown certificate action {action!r}",
                hint="use one of: " + ", ".join(CERT_ACTIONS),
            ) from None
        now = self._utcnow()
        key_changed = False
        with self._lock:
            if chosen is CertAction.ROTATE_NEW_KEY:
                self._key = new_key()
                key_changed = True
            if chosen is CertAction.EXPIRED:
                self._cert = issue(self._key, now - _LIFETIME - _DAY, now - _DAY)
            elif chosen is CertAction.NOT_YET_VALID:
                self._cert = issue(self._key, now + 30 * _DAY, now + _LIFETIME)
            else:  # valid, rotate-same-key, rotate-new-key: a fresh valid certificate
                self._cert = self._issue_valid(self._key)
            self._save(key_changed=key_changed)
        return self.describe()

    # --- internals ------------------------------------------------------------------
    def _utcnow(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._now(), tz=dt.UTC).replace(microsecond=0)

    def _issue_valid(self, key: rsa.RSAPrivateKey) -> x509.Certificate:
        now = self._utcnow()
        return issue(key, now - _DAY, now + _LIFETIME)

    def _load(self) -> tuple[rsa.RSAPrivateKey, x509.Certificate] | None:
        if self._dir is None:
            return None
        key_path, cert_path = self._dir / KEY_FILE, self._dir / CERT_FILE
        if not key_path.exists() or not cert_path.exists():
            return None
        key = serialization.load_pem_private_key(read_private(key_path), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise UsageError(f"{key_path} is not an RSA private key")
        return key, x509.load_pem_x509_certificate(read_private(cert_path))

    def _save(self, *, key_changed: bool) -> None:
        if self._dir is None:
            return
        make_private_dirs(self._dir, tighten=True)
        if key_changed or not (self._dir / KEY_FILE).exists():
            pem = self._key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            write_private(self._dir / KEY_FILE, pem)
        write_private(self._dir / CERT_FILE, self._cert.public_bytes(serialization.Encoding.PEM))

"""The Knox validation certificate: download, store, pin (inspecting it: ``certinfo``).

Knox signs every callback with the key of its validation certificate, served as PEM at
``GET /kwn/v1/downloadCertificate`` since release 24.09 (knox-api.md §4). Samsung says
to keep it locally and to download it again when there is none or it has expired; that
is ``ensure_certificate``.

Pinning: Samsung re-issued the certificate in 2024 without changing its key (the 2022
and 2024 certificates share one SubjectPublicKeyInfo). So what matters is the public
key, not the certificate: ``spki_sha256`` is base64(SHA-256(DER SubjectPublicKeyInfo)),
the ``sha256//<pin>`` form curl's ``--pinnedpubkey`` takes. A downloaded certificate
with the same key as the stored one is a *renewal*; a different key is a *key change*,
which the caller is told about (``Change.KEY_CHANGED``).

Storage: one file per Knox base URL (not per profile: the certificate belongs to the
server, and two profiles on one host share it), in
``<cache dir>/certificates/<host>[_<port>][-<hash of path>].pem``; the directory is
0700, files are written 0600 and atomically.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from knoxhook import wire
from knoxhook.certinfo import CertificateInfo as CertificateInfo  # re-exported
from knoxhook.certinfo import inspect as inspect  # re-exported
from knoxhook.certinfo import inspect_pem as inspect_pem  # re-exported
from knoxhook.certinfo import load_certificates as load_certificates  # re-exported
from knoxhook.certinfo import spki_sha256 as spki_sha256  # re-exported
from knoxhook.errors import CertificateError
from knoxhook.files import ensure_private_dir, store_private, write_private
from knoxhook.timestamps import rfc3339

if TYPE_CHECKING:
    from cryptography import x509

    from knoxhook.config import Settings

log = logging.getLogger(__name__)

CERT_DIR = "certificates"
PEM_ACCEPT = "application/x-pem-file, */*"
WARN_DAYS = 30  # `cert fetch`/`cert show` warn when fewer days are left


class CertClient(Protocol):
    """What ``download`` needs from ``knoxhook.client.KnoxClient``."""

    def request(self, method: str, path: str, *, accept: str = ...) -> Any: ...

    def close(self) -> None: ...


ClientFactory = Callable[["Settings"], CertClient]


# --- storage ----------------------------------------------------------------------------


def stored_path(settings: Settings) -> Path:
    """Where the certificate of ``settings.base_url`` is kept (module docstring)."""
    parts = urlsplit(settings.base_url)
    host = parts.hostname or "unknown"
    stem = re.sub(r"[^A-Za-z0-9.-]+", "_", host)
    if parts.port:
        stem += f"_{parts.port}"
    path = parts.path.strip("/")
    if path:
        stem += "-" + hashlib.sha256(path.encode()).hexdigest()[:8]
    return settings.cache_dir / CERT_DIR / f"{stem}.pem"


def read_stored(settings: Settings) -> bytes | None:
    """The stored PEM for this base URL, or None when there is none."""
    try:
        return stored_path(settings).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CertificateError(f"cannot read {stored_path(settings)}: {exc.strerror}") from exc


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> Path:
    """Write ``data`` to ``path`` atomically with exactly ``mode`` (0600 unless told),
    whatever the umask; missing directories are created 0700, a symbolic link refused.

    For any path (``cert fetch --out``, which shares it 0644): an existing directory keeps
    its mode. Never group/world-writable: whoever may replace a certificate decides
    which callbacks verify.
    """
    write_private(path, data, mode=mode)
    return path


def store(settings: Settings, pem: bytes) -> Path:
    """Keep ``pem`` as this base URL's certificate (atomic, 0600, dir 0700)."""
    load_certificates(pem)  # never store garbage
    path = stored_path(settings)
    ensure_private_dir(path.parent)
    store_private(path, pem)
    return path


# --- download and pinning ---------------------------------------------------------------


class Change(StrEnum):
    """How a downloaded certificate relates to the stored one."""

    NEW = "new"  # nothing was stored
    UNCHANGED = "unchanged"  # the very same certificate
    RENEWAL = "renewal"  # a new certificate, same public key (like Samsung's 2024 one)
    KEY_CHANGED = "key_changed"  # a different public key: not a renewal


def compare(old_pem: bytes | None, new_pem: bytes) -> Change:
    """Classify ``new_pem`` against ``old_pem`` by fingerprint and public-key pin."""
    if old_pem is None:
        return Change.NEW
    new = load_certificates(new_pem)[0]
    try:
        old = load_certificates(old_pem)[0]
    except CertificateError:
        return Change.NEW  # the stored file was unreadable: nothing to compare with
    if _fingerprint(old) == _fingerprint(new):
        return Change.UNCHANGED
    return Change.RENEWAL if spki_sha256(old) == spki_sha256(new) else Change.KEY_CHANGED


def _fingerprint(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives import hashes

    return cert.fingerprint(hashes.SHA256())


def download(client: CertClient) -> bytes:
    """GET the validation certificate through ``client``; it must parse as a certificate."""
    response = client.request("GET", wire.certificate_path(), accept=PEM_ACCEPT)
    pem: bytes = response.content
    try:
        load_certificates(pem)
    except CertificateError as exc:
        raise CertificateError(
            "the Knox certificate endpoint did not return a PEM certificate",
            hint="check --base-url / KNOXHOOK_BASE_URL points at the Knox API",
        ) from exc
    return pem


@dataclass(frozen=True)
class FetchResult:
    pem: bytes
    info: CertificateInfo
    change: Change
    path: Path | None  # None when not stored (invalid)


def fetch_and_store(
    settings: Settings, client: CertClient, *, now: datetime | None = None
) -> FetchResult:
    """Download, compare with the stored certificate, and store it when it is valid.

    An expired or not-yet-valid download is NOT stored (the previous one is kept); the
    caller decides what to say (``info.check_valid()``).
    """
    pem = download(client)
    info = inspect_pem(pem, now=now)
    change = compare(read_stored(settings), pem)
    if info.expired or info.not_yet_valid:
        return FetchResult(pem, info, change, None)
    return FetchResult(pem, info, change, store(settings, pem))


def _default_factory(settings: Settings) -> CertClient:
    from knoxhook.client import open_client
    from knoxhook.validation import validate_knox_urls

    # the certificate is the root of trust of every callback: never over plain http to a
    # remote host unless allowed (``verify``/``listen`` download it without a client)
    client: CertClient = open_client(validate_knox_urls(settings))
    return client


def ensure_certificate(
    settings: Settings,
    *,
    now: datetime | None = None,
    client_factory: ClientFactory | None = None,
) -> bytes:
    """The validation certificate: the stored one if present and valid, else download it.

    ``client_factory`` defaults to ``knoxhook.client.open_client`` (imported only when a
    download is needed). Raises CertificateError when the downloaded one is not valid
    either, and the client's errors (NotConfiguredError, TransportError, ...) otherwise.
    """
    stored = read_stored(settings)
    if stored is None:
        log.info("no certificate stored for %s: downloading it", settings.base_url)
    else:
        try:
            info = inspect_pem(stored, now=now)
        except CertificateError:
            log.warning("stored certificate %s is unreadable; downloading", stored_path(settings))
        else:
            if not (info.expired or info.not_yet_valid):
                return stored
            state = "expired on" if info.expired else "is not valid before"
            when = info.not_after if info.expired else info.not_before
            log.info("the stored certificate %s %s: downloading it again", state, rfc3339(when))
    return download_valid(settings, now=now, client_factory=client_factory)


def download_valid(
    settings: Settings,
    *,
    now: datetime | None = None,
    client_factory: ClientFactory | None = None,
) -> bytes:
    """Download the validation certificate now (e.g. after a rotation) and store it.

    CertificateError when the downloaded one is expired or not yet valid (the stored one
    is then kept); the client's errors otherwise.
    """
    client = (client_factory or _default_factory)(settings)
    try:
        result = fetch_and_store(settings, client, now=now)
    finally:
        client.close()
    result.info.check_valid()
    # said here, not in fetch_and_store: `cert fetch` says it in its own words, once
    if result.change is Change.KEY_CHANGED:
        log.warning(
            "the Knox certificate's public key changed (new pin sha256//%s): not a renewal",
            result.info.spki_sha256,
        )
    elif result.change is not Change.UNCHANGED:
        log.info("downloaded the certificate of %s: %s", settings.base_url, result.change)
    return result.pem

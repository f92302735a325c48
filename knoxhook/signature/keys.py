"""Trusted Knox validation certificates, parsed once, and which are valid when.

Parsing a certificate and extracting its key costs far more than the RSA verify itself,
and a receiver verifies every callback with the same one or two certificates, so both
the parse (per certificate) and the choice of valid keys (per validity window) are
cached here.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True)
class TrustedKey:
    """A trusted certificate, parsed once: its RSA key, validity and fingerprints."""

    certificate: x509.Certificate
    public_key: rsa.RSAPublicKey | None  # None: not an RSA key, cannot verify RS256
    fingerprint: str  # SHA-256 of the certificate DER, lowercase hex
    spki_sha256: str  # SHA-256 of the SubjectPublicKeyInfo DER (the key pin)
    not_before: datetime
    not_after: datetime
    valid_from: float = 0.0  # the same two, as POSIX timestamps (cheap to compare)
    valid_until: float = 0.0

    @classmethod
    def from_certificate(cls, cert: x509.Certificate) -> TrustedKey:
        key = cert.public_key()
        spki = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(
            certificate=cert,
            public_key=key if isinstance(key, rsa.RSAPublicKey) else None,
            fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
            spki_sha256=hashlib.sha256(spki).hexdigest(),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            valid_from=cert.not_valid_before_utc.timestamp(),
            valid_until=cert.not_valid_after_utc.timestamp(),
        )


Certificates = Sequence[x509.Certificate | bytes | TrustedKey]
Keys = tuple[TrustedKey, ...]

_PARSED_MAX: Final = 256
_parsed: dict[x509.Certificate | bytes, Keys] = {}  # certificate or PEM/DER -> its keys


def trusted_keys(certificates: Certificates) -> Keys:
    """Parse trusted certificates (objects, PEM bundles or DER) once; cached."""
    keys: list[TrustedKey] = []
    for item in certificates:
        if isinstance(item, TrustedKey):
            keys.append(item)
            continue
        cached = _parsed.get(item)
        if cached is None:
            if isinstance(item, x509.Certificate):
                certs = [item]
            elif b"-----BEGIN" in item:
                certs = x509.load_pem_x509_certificates(item)
            else:
                certs = [x509.load_der_x509_certificate(item)]
            cached = tuple(TrustedKey.from_certificate(c) for c in certs)
            if len(_parsed) >= _PARSED_MAX:
                _parsed.clear()
            _parsed[item] = cached
        keys.extend(cached)
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class KeySet:
    """The usable keys of some certificates, and those valid in ``[valid_from, valid_until)``."""

    given: tuple[object, ...]  # the certificates as passed, compared by identity first
    usable: Keys  # the RSA keys among them (others cannot verify RS256)
    valid: Keys  # those of ``usable`` valid at every instant of the window
    window_from: float
    window_until: float


_last: list[KeySet] = [KeySet((), (), (), 0.0, 0.0)]  # one slot: the last set computed


def keys_at(certificates: Certificates, ts: float) -> KeySet:
    """The usable (RSA) trusted keys among ``certificates``, and those valid at ``ts``.

    The answer for the last certificates given holds until a validity edge of one of
    them, so it is kept and reused while ``ts`` stays inside that window.
    """
    last = _last[0]
    if last.window_from <= ts < last.window_until and tuple(certificates) == last.given:
        return last
    given = tuple(certificates)
    usable = tuple(k for k in trusted_keys(given) if k.public_key is not None)
    valid = tuple(k for k in usable if k.valid_from <= ts <= k.valid_until)
    # valid_until is inclusive, so a key stops being valid just after it
    edges = [e for k in usable for e in (k.valid_from, math.nextafter(k.valid_until, math.inf))]
    window_from = max((e for e in edges if e <= ts), default=float("-inf"))
    window_until = min((e for e in edges if e > ts), default=float("inf"))
    _last[0] = KeySet(given, usable, valid, window_from, window_until)
    return _last[0]

"""Verify the ``X-WSM-SIGNATURE`` of a Knox callback. Pure functions, no I/O.

Knox signs callbacks with a compact JWS (RS256) in ``X-WSM-SIGNATURE`` (knox-api.md §5).
What exactly is signed is ambiguous [doc gap], so ``verify_callback`` accepts every form
Samsung's Java verifier or a JWS library could produce::

    signing input = part0 + "." + b64url(X)
    X             = the raw body bytes            ("raw-body")
                  | its compact JSON re-encoding  ("compact-json")
    b64url        = with "=" padding ("padded", Java's URL encoder) or without ("unpadded")
    part 1        = empty ("detached") or present ("attached": must decode to X)

The forms are tried most likely first (raw body, padded: what Samsung's Java verifier
builds), each against every currently valid trusted certificate (several at once, for
rotation). The body is parsed as JSON only after the signature holds, except for the
compact re-encoding attempt, which needs a parse and is only tried after the raw-body
forms failed. Every failure raises ONE error type, ``CallbackVerificationError``, whose
``reason`` is a ``Reason`` (the documented set below) and whose message says which check
failed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, NoReturn, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from knoxhook import wire
from knoxhook.errors import CallbackVerificationError

MAX_BODY_BYTES: Final = 1024 * 1024  # callbacks are small JSON documents; refuse more
ALGORITHM: Final = "RS256"  # [doc] SHA256withRSA, RSASSA-PKCS1-v1_5
_PKCS1: Final = padding.PKCS1v15()
_SHA256: Final = hashes.SHA256()


class Reason(StrEnum):
    """Why a callback was refused (``CallbackVerificationError.reason``); stable strings."""

    MISSING_SIGNATURE = "missing_signature"  # no X-WSM-SIGNATURE header
    MALFORMED_SIGNATURE_HEADER = "malformed_signature_header"  # not header.payload.signature
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"  # JOSE header alg is not RS256
    NO_CERTIFICATE = "no_certificate"  # no usable trusted certificate was given
    BODY_TOO_LARGE = "body_too_large"  # more than max_body_bytes
    PAYLOAD_MISMATCH = "payload_mismatch"  # part 1 present but it is not this body
    BAD_SIGNATURE = "bad_signature"  # no form verifies with any trusted certificate
    CERTIFICATE_EXPIRED = "certificate_expired"  # verifies only with an expired cert
    CERTIFICATE_NOT_YET_VALID = "certificate_not_yet_valid"  # ... only with a future cert
    BODY_NOT_JSON = "body_not_json"  # signature holds, but the body is not JSON
    BODY_NOT_OBJECT = "body_not_object"  # ... JSON but not an object
    MISSING_FIELD = "missing_field"  # ... no string subscriptionId / event
    MISSING_NONCE = "missing_nonce"  # no x-knox-nonce header (required since 25.04)
    REPLAYED_NONCE = "replayed_nonce"  # the nonce was seen before


class NonceStore(Protocol):
    """Remembers nonces of verified callbacks (see ``knoxhook.receiver.nonces``)."""

    def check_and_remember(self, nonce: str, now: float) -> bool:
        """Remember ``nonce``; False when it was already seen (a replay)."""
        ...


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


@dataclass(slots=True)
class VerifiedCallback:
    """A callback whose signature, body and nonce checked out."""

    event: str
    subscription_id: str
    payload: Any
    nonce: str | None
    trace_id: str | None
    form: str  # e.g. "raw-body/padded/detached", "compact-json/unpadded/attached"
    certificate_fingerprint: str  # SHA-256 of the certificate that verified it
    body: dict[str, Any] = field(repr=False, default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": True,
            "event": self.event,
            "subscriptionId": self.subscription_id,
            "nonce": self.nonce,
            "trace_id": self.trace_id,
            "form": self.form,
            "certificate_sha256": self.certificate_fingerprint,
            "payload": self.payload,
        }


@dataclass(frozen=True)
class Attempt:
    """One step of a verification, for ``verify --explain``."""

    step: str  # "header", "signature", "body", "nonce"
    outcome: str  # "ok" or why it failed
    form: str | None = None
    certificate: str | None = None  # SHA-256 fingerprint
    signing_input: str | None = None  # abbreviated

    def to_json(self) -> dict[str, str | None]:
        return {
            "step": self.step,
            "form": self.form,
            "certificate_sha256": self.certificate,
            "signing_input": self.signing_input,
            "outcome": self.outcome,
        }


def _fail(reason: Reason, message: str, explain: list[Attempt] | None, step: str) -> NoReturn:
    if explain is not None:
        explain.append(Attempt(step, f"{reason}: {message}"))
    raise CallbackVerificationError(reason, message)


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """``headers[name]``, case-insensitively (works for dicts and Starlette ``Headers``)."""
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
        if value is None:
            lowered = name.lower()
            for key, candidate in headers.items():
                if key.lower() == lowered:
                    return candidate
    return value


# base64url -> base64; "+" and "/" become "!" so that strict decoding refuses them
_URL_TO_STD: Final = bytes.maketrans(b"-_+/", b"+/!!")


def _b64decode(text: str) -> bytes:
    """base64url, padded or not; strict (``ValueError`` on anything else)."""
    raw = text.encode("ascii")
    raw += b"=" * (-len(raw) % 4)
    return binascii.a2b_base64(raw.translate(_URL_TO_STD), strict_mode=True)


def _jose_algorithm(part0: str) -> str:
    """The ``alg`` of an encoded JOSE header (cached: Knox sends the same one every time)."""
    try:
        header = json.loads(_b64decode(part0))
    except (ValueError, RecursionError) as exc:
        raise ValueError("the JOSE header (part 0) is not base64url-encoded JSON") from exc
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        raise ValueError('the JOSE header (part 0) has no "alg"')
    alg = str(header["alg"])
    if len(_JOSE_ALG) < 64:
        _JOSE_ALG[part0] = alg
    return alg


_JOSE_ALG: dict[str, str] = {}  # encoded JOSE header -> alg; Knox reuses one header
_PREFIX: dict[str, bytes] = {}  # encoded JOSE header -> b"part0." (the same reason)


def _prefix(part0: str) -> bytes:
    prefix = part0.encode("ascii") + b"."
    if len(_PREFIX) < 64:
        _PREFIX[part0] = prefix
    return prefix


_FULL_FORM: Final = {
    (f"{x}/{p}", attached): f"{x}/{p}/{'attached' if attached else 'detached'}"
    for x in ("raw-body", "compact-json")
    for p in ("padded", "unpadded")
    for attached in (False, True)
}
_H_SIG: Final = wire.H_SIGNATURE
_H_NONCE: Final = wire.H_NONCE
_H_TRACE: Final = wire.H_TRACE_ID


_KEY_CACHE: dict[Any, tuple[TrustedKey, ...]] = {}
_JSON: Final = json.JSONDecoder()
_B64URL: Final = bytes.maketrans(b"+/", b"-_")
Keys = tuple[TrustedKey, ...]
# the last certificates given, their usable keys, those valid in [lo, hi), lo, hi
_LAST: list[tuple[tuple[Any, ...], Keys, Keys, float, float]] = [((), (), (), 0.0, 0.0)]


def _keys(
    certificates: Sequence[x509.Certificate | bytes | TrustedKey], ts: float
) -> tuple[Keys, Keys]:
    """The usable (RSA) trusted keys, and those valid at ``ts``; cached between calls."""
    given = tuple(certificates)
    last, usable, valid, lo, hi = _LAST[0]
    if given == last and lo <= ts < hi:  # the same certificates as last time: common
        return usable, valid
    usable = tuple(k for k in trusted_keys(given) if k.public_key is not None)
    valid = tuple(k for k in usable if k.valid_from <= ts <= k.valid_until)
    edges = [e for k in usable for e in (k.valid_from, math.nextafter(k.valid_until, math.inf))]
    lo = max((e for e in edges if e <= ts), default=float("-inf"))
    hi = min((e for e in edges if e > ts), default=float("inf"))
    _LAST[0] = (given, usable, valid, lo, hi)
    return usable, valid


def trusted_keys(
    certificates: Sequence[x509.Certificate | bytes | TrustedKey],
) -> tuple[TrustedKey, ...]:
    """Parse trusted certificates (objects, PEM bundles or DER) once; cached."""
    keys: list[TrustedKey] = []
    for item in certificates:
        if isinstance(item, TrustedKey):
            keys.append(item)
            continue
        cached = _KEY_CACHE.get(item)
        if cached is None:
            if isinstance(item, x509.Certificate):
                certs = [item]
            elif b"-----BEGIN" in item:
                certs = x509.load_pem_x509_certificates(item)
            else:
                certs = [x509.load_der_x509_certificate(item)]
            cached = tuple(TrustedKey.from_certificate(c) for c in certs)
            if len(_KEY_CACHE) >= 256:
                _KEY_CACHE.clear()
            _KEY_CACHE[item] = cached
        keys.extend(cached)
    return tuple(keys)


def _abbrev(data: bytes) -> str:
    text = data.decode("ascii", "replace")
    return text if len(text) <= 48 else f"{text[:24]}...{text[-12:]} ({len(text)} chars)"


def _compact(body: bytes) -> bytes | None:
    """The compact JSON re-encoding Samsung's Java verifier signs; None if not JSON."""
    try:
        obj = json.loads(body)
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, RecursionError):
        return None


def _forms(body: bytes) -> Iterator[tuple[str, bytes, bytes | None]]:
    """(form, encoded X, X) in the order tried; X is None when it is not computable."""
    padded = base64.urlsafe_b64encode(body)
    yield "raw-body/padded", padded, body
    unpadded = padded.rstrip(b"=")
    if unpadded != padded:
        yield "raw-body/unpadded", unpadded, body
    compact = _compact(body)
    if compact is None or compact == body:
        yield "compact-json/*", b"", None
        return
    padded = base64.urlsafe_b64encode(compact)
    yield "compact-json/padded", padded, compact
    unpadded = padded.rstrip(b"=")
    if unpadded != padded:
        yield "compact-json/unpadded", unpadded, compact


def _match(
    keys: Sequence[TrustedKey],
    body: bytes,
    part0: str,
    signature: bytes,
    explain: list[Attempt] | None,
    *,
    skip_first: bool = False,
) -> tuple[TrustedKey, str, bytes] | None:
    """The first (key, form, X) that verifies, trying each form with each key."""
    prefix = part0.encode("ascii") + b"."
    forms = _forms(body)
    if skip_first:
        next(forms)
    for form, encoded, signed in forms:
        if signed is None:
            if explain is not None:
                why = "skipped: the body is not JSON, or already compact"
                explain.append(Attempt("signature", why, form))
            continue
        data = prefix + encoded
        for key in keys:
            try:
                key.public_key.verify(signature, data, _PKCS1, _SHA256)  # type: ignore[union-attr]
            except (InvalidSignature, ValueError):
                if explain is not None:
                    why = "signature does not match"
                    explain.append(Attempt("signature", why, form, key.fingerprint, _abbrev(data)))
                continue
            if explain is not None:
                explain.append(Attempt("signature", "ok", form, key.fingerprint, _abbrev(data)))
            return key, form, signed
    return None


def _parse(text: str) -> Any:
    """The JSON document in ``text``, with whitespace around it (``ValueError`` if none)."""
    return _JSON.decode(text)


def verify_callback(
    body: bytes,
    headers: Mapping[str, str],
    certificates: Sequence[x509.Certificate | bytes | TrustedKey],
    *,
    now: datetime | None = None,
    nonce_store: NonceStore | None = None,
    require_nonce: bool = True,
    max_body_bytes: int = MAX_BODY_BYTES,
    explain: list[Attempt] | None = None,
) -> VerifiedCallback:
    """Verify a Knox callback; return it, or raise ``CallbackVerificationError``.

    ``headers`` is looked up case-insensitively. ``certificates`` are the trusted Knox
    validation certificates (``x509.Certificate``, PEM or DER bytes); every one valid at
    ``now`` is tried. The nonce (``x-knox-nonce``) is required unless ``require_nonce``
    is false, and is remembered in ``nonce_store`` only once everything else holds.
    Pass a list as ``explain`` to collect every check made (``Attempt``), even on failure.
    """
    # Hot path (benchmarks/bench_verify.py): keep the work between here and the RSA
    # verify to what is unavoidable; the rare cases are handled in helpers.
    raw = headers.get(_H_SIG)
    if raw is None:
        raw = header_value(headers, _H_SIG)
    if raw is None or not (raw := raw.strip()):
        _fail(Reason.MISSING_SIGNATURE, f"no {_H_SIG} header", explain, "header")
    parts = raw.split(".")
    if len(parts) != 3 or not parts[0] or not parts[2]:
        why = f"{_H_SIG} is not a compact JWS (header.payload.signature)"
        _fail(Reason.MALFORMED_SIGNATURE_HEADER, why, explain, "header")
    part0, part1, part2 = parts
    try:
        alg = _JOSE_ALG.get(part0) or _jose_algorithm(part0)
        sig = part2.encode("ascii")
        sig += b"=" * (-len(sig) % 4)
        signature = binascii.a2b_base64(sig.translate(_URL_TO_STD), strict_mode=True)
        embedded = _b64decode(part1) if part1 else None
    except ValueError as exc:
        why = f"{wire.H_SIGNATURE}: {exc}" if "JOSE" in str(exc) else "not base64url"
        _fail(Reason.MALFORMED_SIGNATURE_HEADER, why, explain, "header")
    if alg != ALGORITHM:
        why = f"the signature uses {alg[:32]!r}; Knox callbacks are signed with {ALGORITHM}"
        _fail(Reason.UNSUPPORTED_ALGORITHM, why, explain, "header")
    if explain is not None:
        explain.append(Attempt("header", f"ok: compact JWS, alg {alg}"))
    if len(body) > max_body_bytes:
        why = f"the body is {len(body)} bytes; the limit is {max_body_bytes}"
        _fail(Reason.BODY_TOO_LARGE, why, explain, "body")

    ts = time.time() if now is None else now.timestamp()
    last, keys, valid, lo, hi = _LAST[0]
    if not (lo <= ts < hi and tuple(certificates) == last):
        keys, valid = _keys(certificates, ts)
    if not keys:
        _fail(
            Reason.NO_CERTIFICATE, "no trusted RSA certificate to verify with", explain, "signature"
        )
    matched = None
    if explain is None and valid:  # fast path: the form Samsung's Java verifier builds
        data = _PREFIX.get(part0) or _prefix(part0)
        data += binascii.b2a_base64(body, newline=False).translate(_B64URL)
        for key in valid:
            try:
                key.public_key.verify(signature, data, _PKCS1, _SHA256)  # type: ignore[union-attr]
            except (InvalidSignature, ValueError):
                continue
            matched = key, "raw-body/padded", body
            break
        else:
            matched = _match(valid, body, part0, signature, explain, skip_first=True)
    elif valid:
        matched = _match(valid, body, part0, signature, explain)
    if matched is None:
        _refuse(keys, valid, ts, body, part0, embedded, signature, explain)
    key, form, signed = matched
    if embedded is not None and embedded != signed:
        why = "the payload part of the signature header (part 1) is not this body"
        _fail(Reason.PAYLOAD_MISMATCH, why, explain, "signature")

    # The signature holds: now parse the body, then check the nonce.
    try:
        text = body.decode()
        document, end = _JSON.raw_decode(text)  # no regex scans; rare cases in _parse
        if end != len(text):
            document = _parse(text)
    except ValueError:
        try:
            document = _parse(body.decode())
        except (ValueError, RecursionError):
            _fail(
                Reason.BODY_NOT_JSON,
                "the signature holds but the body is not JSON",
                explain,
                "body",
            )
    except RecursionError:
        _fail(Reason.BODY_NOT_JSON, "the signature holds but the body is not JSON", explain, "body")
    if type(document) is not dict:
        _fail(Reason.BODY_NOT_OBJECT, "the body is JSON but not an object", explain, "body")
    event = document.get(wire.F_CB_EVENT)
    subscription_id = document.get(wire.F_CB_SUBSCRIPTION_ID)
    if type(event) is not str or type(subscription_id) is not str:
        name = wire.F_CB_EVENT if type(event) is not str else wire.F_CB_SUBSCRIPTION_ID
        _fail(Reason.MISSING_FIELD, f'the body has no string "{name}"', explain, "body")
    if explain is not None:
        explain.append(Attempt("body", "ok: a JSON object with subscriptionId and event"))
    nonce = headers.get(_H_NONCE)
    if nonce is None:
        nonce = header_value(headers, _H_NONCE)
    if nonce is not None:
        nonce = nonce.strip() or None
    if nonce is None:
        if require_nonce:
            _fail(Reason.MISSING_NONCE, f"no {wire.H_NONCE} header", explain, "nonce")
    elif nonce_store is not None and not nonce_store.check_and_remember(nonce, ts):
        why = f"nonce {nonce[:64]!r} was already seen (a replay)"
        _fail(Reason.REPLAYED_NONCE, why, explain, "nonce")
    if explain is not None:
        explain.append(Attempt("nonce", "ok" if nonce else "ok: no nonce (not required)"))
    return VerifiedCallback(
        event,
        subscription_id,
        document.get(wire.F_CB_PAYLOAD),
        nonce,
        headers.get(_H_TRACE) or header_value(headers, _H_TRACE),
        _FULL_FORM[form, bool(part1)],
        key.fingerprint,
        document,
    )


def _refuse(
    keys: Sequence[TrustedKey],
    valid: Sequence[TrustedKey],
    ts: float,
    body: bytes,
    part0: str,
    embedded: bytes | None,
    signature: bytes,
    explain: list[Attempt] | None,
) -> NoReturn:
    """No valid certificate verifies: say precisely why, and raise."""
    pins = {v.spki_sha256 for v in valid}
    stale = [k for k in keys if k not in valid and k.spki_sha256 not in pins]
    hit = _match(stale, body, part0, signature, explain) if stale else None
    if hit is not None:
        key = hit[0]
        if ts > key.valid_until:
            why = f"expired on {key.not_after:%Y-%m-%d}"
            reason = Reason.CERTIFICATE_EXPIRED
        else:
            why = f"is valid only from {key.not_before:%Y-%m-%d}"
            reason = Reason.CERTIFICATE_NOT_YET_VALID
        why = f"the signature verifies only with a certificate that {why}"
        why += f" (SHA-256 {key.fingerprint[:16]}...)"
        _fail(reason, why, explain, "signature")
    if embedded is not None and embedded != body and embedded != _compact(body):
        why = (
            "the payload part of the signature header (part 1) is not this body "
            "(the body was changed, or the header belongs to another callback)"
        )
        _fail(Reason.PAYLOAD_MISMATCH, why, explain, "signature")
    if not valid:
        when = datetime.fromtimestamp(ts, UTC)
        why = (
            f"the signature does not verify, and none of the {len(keys)} trusted "
            f"certificate(s) is valid on {when:%Y-%m-%d}"
        )
    else:
        why = (
            f"the signature does not match the body with any of the {len(valid)} trusted "
            "certificate(s), in any accepted form"
        )
    _fail(Reason.BAD_SIGNATURE, why, explain, "signature")

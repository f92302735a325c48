"""``verify_callback``: check a Knox callback's signature, body and nonce, in that order.

The happy path is benchmarked against a bare RSA verify (``benchmarks/bench_verify.py``,
target >= 0.8x), so it tries the most likely form inline and leaves the search over the
other forms, and the diagnosis of a refusal, to helpers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, NoReturn

from cryptography.exceptions import InvalidSignature

from knoxhook import wire
from knoxhook.errors import CallbackVerificationError
from knoxhook.signature.forms import (
    FIRST_FORM,
    PKCS1,
    SHA256,
    b64url_decode,
    b64url_padded,
    compact_json,
    find_signed_form,
    jose_header,
)
from knoxhook.signature.keys import Certificates, TrustedKey, keys_at
from knoxhook.signature.results import Attempt, NonceStore, Reason, VerifiedCallback

MAX_BODY_BYTES: Final = 1024 * 1024  # callbacks are small JSON documents; refuse more
ALGORITHM: Final = "RS256"  # [doc] SHA256withRSA, RSASSA-PKCS1-v1_5

_H_SIG: Final = wire.H_SIGNATURE
_H_NONCE: Final = wire.H_NONCE
_H_TRACE: Final = wire.H_TRACE_ID
_JSON: Final = json.JSONDecoder()


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """``headers[name]``, case-insensitively (works for dicts and Starlette ``Headers``)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = headers.get(lowered)
        if value is None:
            for key, candidate in headers.items():
                if key.lower() == lowered:
                    return candidate
    return value


def _fail(reason: Reason, message: str, explain: list[Attempt] | None, step: str) -> NoReturn:
    if explain is not None:
        explain.append(Attempt(step, f"{reason}: {message}"))
    raise CallbackVerificationError(reason, message)


def verify_callback(
    body: bytes,
    headers: Mapping[str, str],
    certificates: Certificates,
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
    # 1. The header: a compact JWS (part0.part1.part2) signed with RS256.
    raw = headers.get(_H_SIG) or header_value(headers, _H_SIG)
    if raw is None or not (raw := raw.strip()):
        _fail(Reason.MISSING_SIGNATURE, f"no {_H_SIG} header", explain, "header")
    parts = raw.split(".")
    if len(parts) != 3 or not parts[0] or not parts[2]:
        why = f"{_H_SIG} is not a compact JWS (header.payload.signature)"
        _fail(Reason.MALFORMED_SIGNATURE_HEADER, why, explain, "header")
    part0, part1, part2 = parts
    try:
        jose = jose_header(part0)
    except ValueError as exc:
        _fail(Reason.MALFORMED_SIGNATURE_HEADER, f"{_H_SIG}: {exc}", explain, "header")
    try:
        signature = b64url_decode(part2)
        embedded = b64url_decode(part1) if part1 else None
    except ValueError:
        _fail(Reason.MALFORMED_SIGNATURE_HEADER, "not base64url", explain, "header")
    if jose.alg != ALGORITHM:
        why = f"the signature uses {jose.alg[:32]!r}; Knox callbacks are signed with {ALGORITHM}"
        _fail(Reason.UNSUPPORTED_ALGORITHM, why, explain, "header")
    if explain is not None:
        explain.append(Attempt("header", f"ok: compact JWS, alg {jose.alg}"))
    if len(body) > max_body_bytes:
        why = f"the body is {len(body)} bytes; the limit is {max_body_bytes}"
        _fail(Reason.BODY_TOO_LARGE, why, explain, "body")

    # 2. The signature, with a certificate valid now, in the first form that verifies.
    ts = time.time() if now is None else now.timestamp()
    keyset = keys_at(certificates, ts)
    if not keyset.usable:
        why = "no trusted RSA certificate to verify with"
        _fail(Reason.NO_CERTIFICATE, why, explain, "signature")
    matched = None
    if keyset.valid and explain is None:  # hot path: the first form inline, others if not
        data = jose.prefix + b64url_padded(body)
        for key in keyset.valid:
            try:  # verifies(), inlined: saves a call (~0.1 us, 0.3%) per callback
                key.public_key.verify(signature, data, PKCS1, SHA256)  # type: ignore[union-attr]
            except (InvalidSignature, ValueError):
                continue
            matched = key, FIRST_FORM, body
            break
        else:
            matched = find_signed_form(keyset.valid, body, jose.prefix, signature, skip_first=True)
    elif keyset.valid:
        matched = find_signed_form(keyset.valid, body, jose.prefix, signature, explain)
    if matched is None:
        _refuse(keyset.usable, keyset.valid, ts, body, jose.prefix, embedded, signature, explain)
    key, form, signed = matched
    if embedded is not None and embedded != signed:
        why = "the payload part of the signature header (part 1) is not this body"
        _fail(Reason.PAYLOAD_MISMATCH, why, explain, "signature")

    # 3. The body, parsed only now that it is known to be Knox's (stripe's _webhook.py).
    document = _parse_body(body, explain)
    event = document.get(wire.F_CB_EVENT)
    subscription_id = document.get(wire.F_CB_SUBSCRIPTION_ID)
    if type(event) is not str or type(subscription_id) is not str:
        name = wire.F_CB_EVENT if type(event) is not str else wire.F_CB_SUBSCRIPTION_ID
        _fail(Reason.MISSING_FIELD, f'the body has no string "{name}"', explain, "body")
    if explain is not None:
        explain.append(Attempt("body", "ok: a JSON object with subscriptionId and event"))

    # 4. The nonce, remembered only once everything else holds (knox-api.md §5).
    nonce = headers.get(_H_NONCE) or header_value(headers, _H_NONCE)
    if nonce is not None:
        nonce = nonce.strip() or None
    if nonce is None:
        if require_nonce:
            _fail(Reason.MISSING_NONCE, f"no {_H_NONCE} header", explain, "nonce")
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
        f"{form}/attached" if part1 else f"{form}/detached",
        key.fingerprint,
        document,
    )


def _parse_body(body: bytes, explain: list[Attempt] | None) -> dict[str, Any]:
    """The body as a JSON object, or fail with BODY_NOT_JSON / BODY_NOT_OBJECT."""
    try:
        text = body.decode()
        # raw_decode skips json.loads' encoding sniffing and whitespace regexes; decode()
        # takes the rare body with whitespace around the document (or refuses garbage)
        try:
            document, end = _JSON.raw_decode(text)
        except ValueError:  # e.g. leading whitespace, which raw_decode refuses
            end = -1
        if end != len(text):
            document = _JSON.decode(text)
    except (ValueError, RecursionError):  # ValueError includes UnicodeDecodeError
        _fail(Reason.BODY_NOT_JSON, "the signature holds but the body is not JSON", explain, "body")
    if type(document) is not dict:
        _fail(Reason.BODY_NOT_OBJECT, "the body is JSON but not an object", explain, "body")
    return document


def _refuse(
    keys: Sequence[TrustedKey],
    valid: Sequence[TrustedKey],
    ts: float,
    body: bytes,
    prefix: bytes,
    embedded: bytes | None,
    signature: bytes,
    explain: list[Attempt] | None,
) -> NoReturn:
    """No valid certificate verifies: say precisely why, and raise."""
    # A certificate outside its validity that verifies explains the refusal better than
    # "bad signature"; one with the same key as a valid certificate is a renewal, so it
    # proves nothing about expiry.
    pins = {v.spki_sha256 for v in valid}
    stale = [k for k in keys if k not in valid and k.spki_sha256 not in pins]
    hit = find_signed_form(stale, body, prefix, signature, explain) if stale else None
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
    if embedded is not None and embedded != body and embedded != compact_json(body):
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

"""``verify_callback``: check a Knox callback's signature, body and nonce, in that order.

Verify like Samsung's sample where that costs no security (knox-api.md §5): part 1 of the
JWS is ignored, the signature is always checked as RS256 with the trusted key whatever
the JOSE header claims, and Samsung's re-serialization of the body is a signing form.
Refused on purpose, unlike the sample (docs/callbacks.md, "Deliberate differences"):
expired certificates (unless ``allow_expired``), bytes after the JSON value, repeated
object names, bodies over ``max_body_bytes``.

The happy path is benchmarked (``benchmarks/bench_verify.py``), so the form that matched
last for a trusted key is tried first, inline, and the search over the other forms and
the diagnosis of a refusal are left to helpers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, NoReturn

from cryptography.exceptions import InvalidSignature

from knoxhook import wire
from knoxhook.errors import CallbackVerificationError
from knoxhook.signature import samsung
from knoxhook.signature.forms import (
    FIRST_FORM,
    PKCS1,
    SAMSUNG,
    SAMSUNG_PADDED,
    SAMSUNG_UNPADDED,
    SHA256,
    Form,
    SigningForms,
    b64url_decode,
    b64url_padded,
    find_signed_form,
    jose_header,
)
from knoxhook.signature.keys import Certificates, TrustedKey, keys_at
from knoxhook.signature.results import Attempt, NonceStore, Reason, VerifiedCallback

MAX_BODY_BYTES: Final = 16 * 1024 * 1024  # E-FOTA bulk results for 10,000 devices: ~1.4 MB
ALGORITHM: Final = "RS256"  # [doc] SHA256withRSA, RSASSA-PKCS1-v1_5: the only check made

_H_SIG: Final = wire.H_SIGNATURE
_H_NONCE: Final = wire.H_NONCE
_H_TRACE: Final = wire.H_TRACE_ID

# trusted key fingerprint -> the form that verified last with it (bounded: keys are few)
_PREFERRED_MAX: Final = 256
_preferred: dict[str, str] = {}
# Form(...) runs the NamedTuple's Python __new__ (~0.2 us); the hot path builds it directly
_new_form: Final = tuple.__new__


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """``headers[name]``, case-insensitively (works for dicts and Starlette ``Headers``)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = headers.get(lowered)
        if value is None:  # a miss (e.g. no trace id) looks at every name: lower() only
            size = len(name)  # those of the right length (~0.2 us a miss on a callback)
            for key, candidate in headers.items():
                if len(key) == size and key.lower() == lowered:
                    return candidate
    return value


def _fail(reason: Reason, message: str, explain: list[Attempt] | None, step: str) -> NoReturn:
    if explain is not None:
        explain.append(Attempt(step, f"{reason}: {message}"))
    raise CallbackVerificationError(reason, message)


def _note(explain: list[Attempt] | None, step: str, text: str) -> None:
    if explain is not None:
        explain.append(Attempt(step, text))


def verify_callback(
    body: bytes,
    headers: Mapping[str, str],
    certificates: Certificates,
    *,
    now: datetime | None = None,
    nonce_store: NonceStore | None = None,
    require_nonce: bool = True,
    max_body_bytes: int = MAX_BODY_BYTES,
    strict: bool = False,
    allow_expired: bool = False,
    explain: list[Attempt] | None = None,
) -> VerifiedCallback:
    """Verify a Knox callback; return it, or raise ``CallbackVerificationError``.

    ``headers`` is looked up case-insensitively. ``certificates`` are the trusted Knox
    validation certificates (``x509.Certificate``, PEM or DER bytes); every one valid at
    ``now`` is tried. The nonce (``x-knox-nonce``) is required unless ``require_nonce``
    is false, and is remembered in ``nonce_store`` only once everything else holds.
    ``strict``: accept only a signature over the body as received (no re-serialized
    form). ``allow_expired``: also accept a signature that verifies only with an expired
    certificate (Samsung's sample never checks dates). Pass a list as ``explain`` to
    collect every check made (``Attempt``), even on failure.
    """
    # 1. The header: a compact JWS (part0.part1.part2); part 1 is never used.
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
        signature = b64url_decode(part2)
    except ValueError as exc:
        why = f"{_H_SIG}: {exc}" if "JOSE" in str(exc) else f"{_H_SIG}: part 2 is not base64url"
        _fail(Reason.MALFORMED_SIGNATURE_HEADER, why, explain, "header")
    if explain is not None:
        _explain_header(jose.alg, explain)
    if len(body) > max_body_bytes:
        why = f"the body is {len(body)} bytes; the limit is {max_body_bytes}"
        _fail(Reason.BODY_TOO_LARGE, why, explain, "body")

    # 2. The signature, with a certificate valid now, in the first form that verifies.
    ts = time.time() if now is None else now.timestamp()
    keyset = keys_at(certificates, ts)
    if not keyset.usable:
        why = "no trusted RSA certificate to verify with"
        _fail(Reason.NO_CERTIFICATE, why, explain, "signature")
    valid = keyset.valid
    matched: tuple[TrustedKey, Form] | None = None
    forms: SigningForms | None = None
    parsed: samsung.Parsed | None = None
    if valid and explain is None:  # hot path: the last matching form inline, then the rest
        preferred = FIRST_FORM
        if _preferred and not strict:
            for candidate in valid:
                found = _preferred.get(candidate.fingerprint)
                if found is not None:
                    preferred = found
                    break
        first: Form | None = None
        if preferred == FIRST_FORM:
            first = _new_form(Form, (FIRST_FORM, body, b64url_padded(body), True))
        elif preferred.partition("/")[0] == SAMSUNG:  # inline too: what the cache is for
            parsed, signed = samsung.parse_reserialized(body)
            if signed is not None and signed != body:
                encoded = b64url_padded(signed)
                if preferred == SAMSUNG_UNPADDED and encoded[-1:] == b"=":
                    first = _new_form(Form, (preferred, signed, encoded.rstrip(b"="), False))
                else:
                    first = _new_form(Form, (SAMSUNG_PADDED, signed, encoded, False))
                preferred = first.name
        else:
            forms = SigningForms(body)
            first = forms.get(preferred)
        if first is not None:
            data = jose.prefix + first.encoded
            for key in valid:
                try:  # verifies(), inlined: saves a call per callback
                    key.public_key.verify(signature, data, PKCS1, SHA256)  # type: ignore[union-attr]
                except (InvalidSignature, ValueError):
                    continue
                matched = key, first
                break
        if matched is None:
            if forms is None and parsed is not None:  # the Samsung form was tried inline
                forms = SigningForms(body, parsed=parsed)
                if first is not None:
                    forms.seed(SAMSUNG, first.signed)
            elif forms is None:
                raw_padded = None if first is None else first.encoded
                forms = SigningForms(body, strict=strict, raw_padded=raw_padded)
            matched = find_signed_form(valid, forms, jose.prefix, signature, skip=preferred)
    else:
        forms = SigningForms(body, strict=strict)
        if valid:
            matched = find_signed_form(valid, forms, jose.prefix, signature, explain)
    if matched is None:
        assert forms is not None
        matched = _refuse(
            keyset.usable, valid, ts, forms, jose.prefix, signature, explain, allow_expired
        )
    key, form = matched
    if _preferred.get(key.fingerprint) != form.name:
        if len(_preferred) >= _PREFERRED_MAX:
            _preferred.clear()
        _preferred[key.fingerprint] = form.name
    if explain is not None and part1:
        _explain_part1(part1, form, explain)

    # 3. The body, parsed once (the forms may have parsed it already) now that it is Knox's.
    if forms is not None:
        parsed = forms.parsed
    elif parsed is None:
        parsed = samsung.parse(body)
    document = _body(parsed, explain)
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
    # positional: keyword arguments cost the dataclass __init__ ~0.25 us more a call
    return VerifiedCallback(
        event,
        subscription_id,
        document.get(wire.F_CB_PAYLOAD),
        nonce,
        headers.get(_H_TRACE) or header_value(headers, _H_TRACE),
        f"{form.name}/attached" if part1 else f"{form.name}/detached",
        key.fingerprint,
        document,
        form.signed,  # signed_bytes
        form.is_body,  # body_is_signed
        signature,
    )


def _explain_header(alg: str, explain: list[Attempt]) -> None:
    if alg == ALGORITHM:
        explain.append(Attempt("header", f"ok: compact JWS, alg {alg}"))
    else:
        why = f"ok: compact JWS with alg {alg[:32]!r}; ignored, verified as {ALGORITHM}"
        explain.append(Attempt("header", why))


def _explain_part1(part1: str, form: Form, explain: list[Attempt]) -> None:
    try:
        same = b64url_decode(part1) == form.signed
    except ValueError:
        same = False
    if same:
        explain.append(Attempt("signature", "ok: part 1 is the signed bytes"))
    else:
        why = "part 1 is not the signed bytes; ignored, as Samsung's sample ignores it"
        explain.append(Attempt("signature", f"ok: {why}"))


def _body(parsed: samsung.Parsed | None, explain: list[Attempt] | None) -> dict[str, Any]:
    """The body as a JSON object, or fail (not JSON, trailing bytes, repeats, not object)."""
    if parsed is None:
        _fail(Reason.BODY_NOT_JSON, "the signature holds but the body is not JSON", explain, "body")
    if parsed.trailing:
        why = "the signature holds but bytes follow the JSON value"
        _fail(Reason.BODY_NOT_JSON, why, explain, "body")
    if parsed.duplicate_name:
        why = "the body repeats an object name; parsers disagree on which value counts"
        _fail(Reason.DUPLICATE_KEY, why, explain, "body")
    if type(parsed.document) is not dict:
        _fail(Reason.BODY_NOT_OBJECT, "the body is JSON but not an object", explain, "body")
    return parsed.document


def _refuse(
    keys: Sequence[TrustedKey],
    valid: Sequence[TrustedKey],
    ts: float,
    forms: SigningForms,
    prefix: bytes,
    signature: bytes,
    explain: list[Attempt] | None,
    allow_expired: bool,
) -> tuple[TrustedKey, Form]:
    """No valid certificate verifies: say precisely why, and raise (or, with
    ``allow_expired``, return the match of an expired certificate)."""
    # A certificate outside its validity that verifies explains the refusal better than
    # "bad signature"; one with the same key as a valid certificate is a renewal, so it
    # proves nothing about expiry.
    pins = {v.spki_sha256 for v in valid}
    stale = [k for k in keys if k not in valid and k.spki_sha256 not in pins]
    hit = find_signed_form(stale, forms, prefix, signature, explain) if stale else None
    if hit is not None:
        key = hit[0]
        if ts > key.valid_until:
            if allow_expired:
                why = f"ok: verified with a certificate that expired on {key.not_after:%Y-%m-%d}"
                _note(explain, "signature", f"{why} (allowed)")
                return hit
            why = f"expired on {key.not_after:%Y-%m-%d}"
            reason = Reason.CERTIFICATE_EXPIRED
        else:
            why = f"is valid only from {key.not_before:%Y-%m-%d}"
            reason = Reason.CERTIFICATE_NOT_YET_VALID
        why = f"the signature verifies only with a certificate that {why}"
        why += f" (SHA-256 {key.fingerprint[:16]}...)"
        _fail(reason, why, explain, "signature")
    if not valid:
        when = datetime.fromtimestamp(ts, UTC)
        why = (
            f"the signature does not verify, and none of the {len(keys)} trusted "
            f"certificate(s) is valid on {when:%Y-%m-%d}"
        )
    else:
        only = "the raw body (strict mode)" if forms.strict else "any accepted form"
        why = (
            f"the signature does not match the body with any of the {len(valid)} trusted "
            f"certificate(s), in {only}"
        )
    _fail(Reason.BAD_SIGNATURE, why, explain, "signature")

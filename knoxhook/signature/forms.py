"""The compact JWS of ``X-WSM-SIGNATURE``: its parts, and the signing inputs to try.

Standard JWS libraries refuse the padded and detached variants Knox may send, so the
signing input is built by hand (DESIGN.md, Stack). Every form is::

    part0 + "." + b64url(X),  X = raw body | compact JSON re-encoding,  padded or not

``signing_forms`` yields them most likely first; ``find_signed_form`` tries each with
each key and, when asked, records every attempt for ``verify --explain``.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from knoxhook.signature.keys import TrustedKey
from knoxhook.signature.results import Attempt

PKCS1: Final = padding.PKCS1v15()  # [doc] SHA256withRSA, RSASSA-PKCS1-v1_5
SHA256: Final = hashes.SHA256()

# base64url -> base64; "+" and "/" become "!" so that strict decoding refuses them
_URL_TO_STD: Final = bytes.maketrans(b"-_+/", b"+/!!")
_STD_TO_URL: Final = bytes.maketrans(b"+/", b"-_")


def b64url_decode(text: str) -> bytes:
    """base64url, padded or not; strict (``ValueError`` on anything else)."""
    raw = text.encode("ascii")
    raw += b"=" * (-len(raw) % 4)
    return binascii.a2b_base64(raw.translate(_URL_TO_STD), strict_mode=True)


def b64url_padded(data: bytes) -> bytes:
    """base64url with "=" padding, as Java's URL encoder writes it (faster than base64's)."""
    return binascii.b2a_base64(data, newline=False).translate(_STD_TO_URL)


@dataclass(frozen=True, slots=True)
class JoseHeader:
    """A decoded JOSE header (part 0): its algorithm and the signing-input prefix."""

    alg: str
    prefix: bytes  # part0 + b".", the start of every signing input


_HEADERS_MAX: Final = 64
_headers: dict[str, JoseHeader] = {}  # part 0 -> decoded; Knox sends the same every time


def jose_header(part0: str) -> JoseHeader:
    """Decode part 0 (cached); ``ValueError`` with a message when it is not a JOSE header."""
    header = _headers.get(part0)
    if header is not None:
        return header
    try:
        decoded = json.loads(b64url_decode(part0))
    except (ValueError, RecursionError) as exc:
        raise ValueError("the JOSE header (part 0) is not base64url-encoded JSON") from exc
    if not isinstance(decoded, dict) or not isinstance(decoded.get("alg"), str):
        raise ValueError('the JOSE header (part 0) has no "alg"')
    header = JoseHeader(decoded["alg"], part0.encode("ascii") + b".")
    if len(_headers) < _HEADERS_MAX:  # bounded: part 0 comes from the network
        _headers[part0] = header
    return header


def compact_json(body: bytes) -> bytes | None:
    """The compact JSON re-encoding Samsung's Java verifier signs; None if not JSON."""
    try:
        document = json.loads(body)
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, RecursionError):
        return None


FIRST_FORM: Final = "raw-body/padded"  # what Samsung's Java verifier builds


def signing_forms(body: bytes) -> Iterator[tuple[str, bytes, bytes | None]]:
    """(form, b64url(X), X) in the order tried; X is None when the form does not apply."""
    padded = b64url_padded(body)
    yield FIRST_FORM, padded, body
    unpadded = padded.rstrip(b"=")
    if unpadded != padded:
        yield "raw-body/unpadded", unpadded, body
    compact = compact_json(body)
    if compact is None or compact == body:
        yield "compact-json/*", b"", None
        return
    padded = b64url_padded(compact)
    yield "compact-json/padded", padded, compact
    unpadded = padded.rstrip(b"=")
    if unpadded != padded:
        yield "compact-json/unpadded", unpadded, compact


def verifies(key: TrustedKey, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is ``key``'s RS256 signature of ``data``."""
    try:
        key.public_key.verify(signature, data, PKCS1, SHA256)  # type: ignore[union-attr]
    except (InvalidSignature, ValueError):  # ValueError: e.g. a signature of wrong length
        return False
    return True


def _abbrev(data: bytes) -> str:
    text = data.decode("ascii", "replace")
    return text if len(text) <= 48 else f"{text[:24]}...{text[-12:]} ({len(text)} chars)"


def find_signed_form(
    keys: Sequence[TrustedKey],
    body: bytes,
    prefix: bytes,
    signature: bytes,
    explain: list[Attempt] | None = None,
    *,
    skip_first: bool = False,
) -> tuple[TrustedKey, str, bytes] | None:
    """The first (key, form, X) that verifies, trying each form with each key.

    ``skip_first``: the caller already tried ``FIRST_FORM`` with every key.
    """
    forms = signing_forms(body)
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
            ok = verifies(key, signature, data)
            if explain is not None:
                why = "ok" if ok else "signature does not match"
                explain.append(Attempt("signature", why, form, key.fingerprint, _abbrev(data)))
            if ok:
                return key, form, signed
    return None

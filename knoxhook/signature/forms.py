"""The compact JWS of ``X-WSM-SIGNATURE``: its parts, and the signing inputs to try.

Standard JWS libraries refuse the padded and detached variants Knox may send, so the
signing input is built by hand (DESIGN.md, Stack). Every form is ``part0 + "." +
b64url(X)``; ``SigningForms`` builds the X of each form at most once per callback, from
ONE parse of the body, in the order tried (knox-api.md §5):

1. ``raw-body``: the body as received;
2. ``samsung-reserialized``: what Samsung's sample verifier builds and verifies
   (``samsung.reserialize``: Jackson's re-serialization of the body parsed into a
   ``HashMap``), on JDK 17; ``samsung-reserialized-jdk19``: the same on Java 19 or later,
   built only for a body whose floats print differently there (``javadouble``);
3. ``compact-json``: the document re-encoded compactly in document order (what a
   JavaScript ``JSON.stringify`` or Python ``json.dumps`` signer produces). Samsung's
   sample does NOT build this; it is kept for third-party signers, costs one RSA verify
   only when the forms above failed, and, like every form, needs a valid signature.

each base64url-encoded ``padded`` (Java's URL encoder) and ``unpadded`` (RFC 7515). A
derived form whose bytes equal an earlier one's is skipped. Part 1 of the JWS is never
part of the signing input (Samsung's sample never reads it).
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from knoxhook.signature import samsung
from knoxhook.signature.keys import TrustedKey
from knoxhook.signature.results import Attempt

PKCS1: Final = padding.PKCS1v15()  # [doc] SHA256withRSA, RSASSA-PKCS1-v1_5
SHA256: Final = hashes.SHA256()

# base64url -> base64; "+" and "/" become "!" so that strict decoding refuses them
_URL_TO_STD: Final = bytes.maketrans(b"-_+/", b"+/!!")
_STD_TO_URL: Final = bytes.maketrans(b"+/", b"-_")

RAW: Final = "raw-body"
SAMSUNG: Final = "samsung-reserialized"
SAMSUNG_JDK19: Final = "samsung-reserialized-jdk19"  # the same on Java 19+ (floats differ)
COMPACT: Final = "compact-json"
FIRST_FORM: Final = f"{RAW}/padded"
SAMSUNG_PADDED: Final = f"{SAMSUNG}/padded"
SAMSUNG_UNPADDED: Final = f"{SAMSUNG}/unpadded"


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
    """A decoded JOSE header (part 0): its algorithm and the signing-input prefix.

    ``alg`` is only reported: the signature is always checked as RS256 with the trusted
    key, so a header claiming ``none`` or ``HS256`` cannot choose a weaker check.
    """

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
        # RFC 7515 4.1.1: "alg" MUST be present; its value is only reported (see JoseHeader)
        raise ValueError('the JOSE header (part 0) is not a JSON object with "alg"')
    header = JoseHeader(decoded["alg"], part0.encode("ascii") + b".")
    if len(_headers) < _HEADERS_MAX:  # bounded: part 0 comes from the network
        _headers[part0] = header
    return header


class Form(NamedTuple):
    """One signing form: its name, the bytes it signs, and their base64url encoding."""

    name: str  # e.g. "samsung-reserialized/padded"
    signed: bytes  # X: what the signature covers (record and forward these)
    encoded: bytes  # b64url(X), padded or not
    is_body: bool  # X is the body as received


class SigningForms:
    """The forms of one body, each built at most once, from at most one parse.

    ``strict``: only the raw body (``raw-body/padded`` and ``/unpadded``).
    ``raw_padded``, ``parsed``: b64url_padded(body) and samsung.parse(body), when the
    caller already has them.
    """

    __slots__ = ("_forms", "_parsed", "_parsed_done", "_signed", "body", "skipped", "strict")

    def __init__(
        self,
        body: bytes,
        *,
        strict: bool = False,
        raw_padded: bytes | None = None,
        parsed: samsung.Parsed | None = None,
    ) -> None:
        self.body = body
        self.strict = strict
        self._forms: dict[str, list[Form]] = {}
        self._signed: dict[str, bytes | None] = {RAW: body}
        self._parsed = parsed
        self._parsed_done = parsed is not None
        self.skipped: dict[str, str] = {}  # form family -> why it was not tried
        if raw_padded is not None:
            self._forms[RAW] = _encoded(RAW, body, raw_padded)

    @property
    def parsed(self) -> samsung.Parsed | None:
        """The body parsed once (``samsung.parse``); None when it is not JSON."""
        if not self._parsed_done:
            self._parsed = samsung.parse(self.body)
            self._parsed_done = True
        return self._parsed

    def seed(self, family: str, signed: bytes) -> None:
        """X of ``family``, already built by the caller (it must differ from the body)."""
        self._signed[family] = signed

    def families(self) -> tuple[str, ...]:
        return (RAW,) if self.strict else (RAW, SAMSUNG, SAMSUNG_JDK19, COMPACT)

    def signed(self, family: str) -> bytes | None:
        """X of ``family`` (None, with the reason in ``skipped``, when it does not apply)."""
        if family in self._signed:
            return self._signed[family]
        signed: bytes | None = None
        if family == SAMSUNG and not self._parsed_done:  # the parse and the form at once
            self._parsed, signed = samsung.parse_reserialized(self.body)
            self._parsed_done = True
            parsed = self._parsed
        else:
            parsed = self.parsed
            if parsed is not None and family == SAMSUNG:
                signed = samsung.reserialize_parsed(parsed)
        if parsed is None:
            self.skipped[family] = "the body is not JSON (Jackson would refuse it too)"
        elif family == SAMSUNG:
            if signed is None:
                self.skipped[family] = "the body is not a JSON object"
            elif signed == self.body:
                self.skipped[family] = "the body already is Samsung's re-serialization"
                signed = None
        elif family == SAMSUNG_JDK19:
            if not parsed.has_float:
                self.skipped[family] = "no floats: the same bytes on every Java"
            else:
                signed = samsung.reserialize_parsed(parsed, jdk=19)
                if signed is None or signed in (self.body, self.signed(SAMSUNG)):
                    self.skipped[family] = "its floats print the same on Java 17 and 19+"
                    signed = None
        else:
            signed = _compact(parsed.document)
            if signed is not None and signed in (self.body, self.signed(SAMSUNG)):
                self.skipped[family] = "the same bytes as a form tried before"
                signed = None
        self._signed[family] = signed
        return signed

    def family(self, family: str) -> list[Form]:
        """The padded and unpadded forms of ``family`` (empty when it does not apply)."""
        forms = self._forms.get(family)
        if forms is None:
            signed = self.signed(family)
            forms = [] if signed is None else _encoded(family, signed, b64url_padded(signed))
            self._forms[family] = forms
        return forms

    def __iter__(self) -> Iterator[Form]:
        """The forms in the order tried; built lazily, once, however often iterated."""
        for family in self.families():
            yield from self.family(family)

    def get(self, name: str) -> Form | None:
        """The form called ``name``, or None (not a form, or it does not apply)."""
        family = name.partition("/")[0]
        if family not in self.families():
            return None
        return next((f for f in self.family(family) if f.name == name), None)


def _encoded(family: str, signed: bytes, padded: bytes) -> list[Form]:
    forms = [Form(f"{family}/padded", signed, padded, family == RAW)]
    unpadded = padded.rstrip(b"=")
    if unpadded != padded:
        forms.append(Form(f"{family}/unpadded", signed, unpadded, family == RAW))
    return forms


def _compact(document: object) -> bytes | None:
    try:
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8", "replace"
        )
    except (ValueError, RecursionError):
        return None


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
    forms: SigningForms,
    prefix: bytes,
    signature: bytes,
    explain: list[Attempt] | None = None,
    *,
    skip: str | None = None,
) -> tuple[TrustedKey, Form] | None:
    """The first (key, form) that verifies, trying each form with each key.

    ``skip``: a form the caller already tried with every key.
    """
    for form in forms:
        if form.name == skip:
            continue
        data = prefix + form.encoded
        for key in keys:
            ok = verifies(key, signature, data)
            if explain is not None:
                why = "ok" if ok else "signature does not match"
                explain.append(Attempt("signature", why, form.name, key.fingerprint, _abbrev(data)))
            if ok:
                return key, form
    if explain is not None:
        for family, why in forms.skipped.items():
            explain.append(Attempt("signature", f"skipped: {why}", f"{family}/*"))
    return None

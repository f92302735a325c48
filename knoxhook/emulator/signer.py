"""Sign a callback the way Knox does: an RS256 compact JWS in ``X-WSM-SIGNATURE``.

Samsung's only published verifier (knox-api.md §5) checks ``part0 + "." +
base64url_padded(S)``, where ``S`` is Jackson's re-serialization of the received body as
a ``HashMap`` (``knoxhook.signature.samsung``), and never reads part 1. Whether Samsung
sends ``S`` itself as the body, or other text that re-serializes to it, is not
documented, so the emulator has a mode for each reading, and for the readings of
third-party verifiers:

=======================  ======================================  ============================
mode                     body sent                               signed (the part 2 input)
=======================  ======================================  ============================
``samsung`` (default)    ``S``: compact, top-level keys in       ``S``, base64url padded;
                         HashMap order                           part 1 = that, padded
``samsung-reserialized`` the document in its own key order,      ``S`` of that body, padded;
                         pretty-printed (not ``S``)              part 1 = that, padded
``padded``               compact JSON in document order          the body, padded
``unpadded``             compact JSON in document order          the body, unpadded (RFC 7515)
``detached``             compact JSON in document order          the body, unpadded; part 1
                                                                 empty (RFC 7515 appendix F)
=======================  ======================================  ============================

Which verifiers accept which mode: ``knoxhook.emulator.SIGNING_ACCEPTED_BY`` (and
docs/emulator.md). Written
by hand with ``cryptography``: standard JWS libraries refuse the padded forms.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from knoxhook.emulator import SigningMode
from knoxhook.signature import samsung

JOSE_HEADER: Final = {"alg": "RS256", "typ": "JWT"}


def b64url(data: bytes, *, pad: bool) -> str:
    text = base64.urlsafe_b64encode(data).decode("ascii")
    return text if pad else text.rstrip("=")


def compact(document: object) -> bytes:
    """Compact JSON in the document's own key order (the third-party modes' body)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Signed:
    """A callback ready to send: its body and its ``X-WSM-SIGNATURE``."""

    body: bytes
    signature: str


def _pieces(document: dict[str, Any], mode: SigningMode) -> tuple[bytes, bytes, bool]:
    """(the body to send, the bytes to sign, padded?) for ``mode``."""
    if mode is SigningMode.SAMSUNG:
        signed = samsung.serialize(document)
        return signed, signed, True
    if mode is SigningMode.SAMSUNG_RESERIALIZED:
        body = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
        reserialized = samsung.reserialize(body)
        assert reserialized is not None  # a JSON object we printed ourselves
        return body, reserialized, True
    body = compact(document)
    return body, body, mode is SigningMode.PADDED


def signing_input(signed: bytes, *, pad: bool) -> bytes:
    """``part0 + "." + base64url(signed)``, with or without padding."""
    part0 = b64url(compact(JOSE_HEADER), pad=pad)
    return f"{part0}.{b64url(signed, pad=pad)}".encode("ascii")


def _signature(signed: bytes, key: rsa.RSAPrivateKey, mode: SigningMode, pad: bool) -> str:
    data = signing_input(signed, pad=pad)
    part0, part1 = data.decode("ascii").split(".")
    signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if mode is SigningMode.DETACHED:
        part1 = ""
    return f"{part0}.{part1}.{b64url(signature, pad=pad)}"


def sign_document(
    document: dict[str, Any], key: rsa.RSAPrivateKey, mode: str = SigningMode.SAMSUNG
) -> Signed:
    """The body to send for ``document`` and its ``X-WSM-SIGNATURE`` in ``mode``."""
    chosen = SigningMode(mode)
    body, signed, pad = _pieces(document, chosen)
    return Signed(body, _signature(signed, key, chosen, pad))


def sign(body: bytes, key: rsa.RSAPrivateKey, mode: str = SigningMode.PADDED) -> str:
    """The ``X-WSM-SIGNATURE`` for ``body`` exactly as it will be sent, in ``mode``
    (``samsung-reserialized`` signs ``samsung.reserialize(body)``; the others the body)."""
    chosen = SigningMode(mode)
    signed = body
    if chosen is SigningMode.SAMSUNG_RESERIALIZED:
        reserialized = samsung.reserialize(body)
        if reserialized is None:
            raise ValueError("Samsung's verifier cannot re-serialize this body")
        signed = reserialized
    pad = chosen in (SigningMode.SAMSUNG, SigningMode.SAMSUNG_RESERIALIZED, SigningMode.PADDED)
    return _signature(signed, key, chosen, pad)

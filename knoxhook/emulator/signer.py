"""Sign a callback body the way Knox does: an RS256 compact JWS in ``X-WSM-SIGNATURE``.

The signing input is ``part0 + "." + base64url(body)`` (knox-api.md §5, Samsung's Java
verifier). Which exact form Samsung sends is not documented, so the emulator can send
each one a verifier must accept:

- ``padded``: base64url WITH ``=`` padding (Java's URL encoder keeps it), part 1 present;
- ``unpadded``: the standard JWS compact serialization (RFC 7515), part 1 present;
- ``detached``: part 1 empty (RFC 7515 appendix F), signing input unpadded.

Written by hand with ``cryptography``: standard JWS libraries refuse the padded form.
"""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from knoxhook.emulator import SIGNING_MODES

JOSE_HEADER = {"alg": "RS256", "typ": "JWT"}


def b64url(data: bytes, *, pad: bool) -> str:
    text = base64.urlsafe_b64encode(data).decode("ascii")
    return text if pad else text.rstrip("=")


def encode_body(document: object) -> bytes:
    """The exact callback body bytes: compact JSON, as Samsung's verifier re-serializes."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signing_input(body: bytes, mode: str) -> bytes:
    """``part0 + "." + base64url(body)`` with the padding of ``mode``."""
    pad = mode == "padded"
    part0 = b64url(encode_body(JOSE_HEADER), pad=pad)
    return f"{part0}.{b64url(body, pad=pad)}".encode("ascii")


def sign(body: bytes, key: rsa.RSAPrivateKey, mode: str = "padded") -> str:
    """The ``X-WSM-SIGNATURE`` value for ``body`` in signing ``mode``."""
    if mode not in SIGNING_MODES:
        raise ValueError(f"unknown signing mode {mode!r}")
    data = signing_input(body, mode)
    part0, part1 = data.decode("ascii").split(".")
    signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if mode == "detached":
        part1 = ""
    return f"{part0}.{part1}.{b64url(signature, pad=mode == 'padded')}"

"""The two JWTs of legacy Knox Cloud Authentication, as Samsung signs them.

Samsung's ``knox-token-library-js@1.0.22`` (its ``index.js``, knox-api.md §2b) calls
``jsonwebtoken.sign(payload, Private, {algorithm: "RS512", audience: "KnoxWSM",
expiresIn: "30m", jwtid: uuidv1() + uuidv1()})``. So the header is exactly
``{"alg":"RS512","typ":"JWT"}`` and the claims, in this order, are the value claim
(``clientIdentifier`` or ``accessToken``), ``publicKey`` (base64 DER SPKI), ``iat``,
``exp`` = ``iat`` + 1800, ``aud`` and ``jti`` (72 characters). Built here with
``cryptography`` directly (authlib's ~170 ms import is not worth it for one signature);
``tests/interop/test_knox_token_library.py`` compares both libraries' output.

``decode`` and ``verify`` serve the emulator (and the tests); they raise ``JwtError``
with the reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from knoxhook import wire
from knoxhook.legacy.keys import LegacyKeys

_HEADER = json.dumps({"alg": wire.JWT_ALG, "typ": wire.JWT_TYP}, separators=(",", ":"))
MAX_JWT_BYTES = 16 * 1024


class JwtError(Exception):
    """A JWT that cannot be decoded or does not verify; ``str`` says why."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not text or "=" in text:
        raise JwtError("a part is empty or padded")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise JwtError("a part is not base64url") from None


# The UUIDv1 node: random per process with the multicast bit set (RFC 4122 §4.5), as
# the npm ``uuid`` package does; never this machine's MAC address.
_NODE = secrets.randbits(48) | 1 << 40


def new_jti() -> str:
    """Two UUIDv1 strings joined, as ``uuidv1() + uuidv1()`` (72 characters)."""
    return str(uuid.uuid1(node=_NODE)) + str(uuid.uuid1(node=_NODE))


def sign(
    keys: LegacyKeys,
    claim: str,
    value: str,
    *,
    now: float | None = None,
    jti: str | None = None,
) -> str:
    """A compact RS512 JWT carrying ``claim: value`` and the public key."""
    iat = int(time.time() if now is None else now)
    payload = {
        claim: value,
        wire.CLAIM_PUBLIC_KEY: keys.public_key_b64,
        "iat": iat,
        "exp": iat + wire.JWT_LIFETIME,
        "aud": wire.JWT_AUDIENCE,
        "jti": jti or new_jti(),
    }
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    signing_input = f"{b64url(_HEADER.encode())}.{b64url(body.encode('utf-8'))}"
    signature = keys.private_key.sign(
        signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA512()
    )
    return f"{signing_input}.{b64url(signature)}"


def sign_client_identifier(keys: LegacyKeys, identifier: str, *, now: float | None = None) -> str:
    """``generateSignedClientIdentifierJWT(keys.json, identifier)``."""
    return sign(keys, wire.CLAIM_CLIENT_IDENTIFIER, identifier, now=now)


def sign_access_token(keys: LegacyKeys, access_token: str, *, now: float | None = None) -> str:
    """``generateSignedAccessTokenJWT(keys.json, accessToken)``: the x-knox-apitoken value."""
    return sign(keys, wire.CLAIM_ACCESS_TOKEN, access_token, now=now)


@dataclass(frozen=True)
class Decoded:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def decode(token: str) -> Decoded:
    """Split and parse a compact JWT WITHOUT verifying it (``verify`` does)."""
    if len(token) > MAX_JWT_BYTES:
        raise JwtError(f"longer than {MAX_JWT_BYTES} characters")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise JwtError(f"not a compact JWT (expected 3 parts, got {len(parts)})")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        raise JwtError("the header or the claims are not JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("the header or the claims are not JSON objects")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    return Decoded(header, claims, signing_input, b64url_decode(parts[2]))


def verify(token: str, public_key: rsa.RSAPublicKey) -> Decoded:
    """Decode ``token`` and check it is RS512 and signed by ``public_key``."""
    decoded = decode(token)
    alg = decoded.header.get("alg")
    if alg != wire.JWT_ALG:
        raise JwtError(f"alg is {str(alg)[:20]!r}, not {wire.JWT_ALG}")
    try:
        public_key.verify(
            decoded.signature, decoded.signing_input, padding.PKCS1v15(), hashes.SHA512()
        )
    except InvalidSignature:
        raise JwtError("the signature does not verify with the registered public key") from None
    return decoded

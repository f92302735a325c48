"""Forged Knox callbacks for the security suite: the attacks the audit tried.

``forgeries(trusted, attacker, key_server)`` lists them (``test_forgery`` says which and
why); ``jws`` builds an ``X-WSM-SIGNATURE`` in any of the four forms Knox may sign.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from tests.receiver.signing import Signer, b64url
from tests.security.conftest import Tap

BODY = json.dumps(
    {"subscriptionId": "63689d7e4ee2721f7b50d2b1", "event": "KDMS_DEVICE_UPLOAD",
     "payload": {"successCount": 1}},
    indent=1,
).encode()  # fmt: skip
FORMS = [(padded, detached) for padded in (True, False) for detached in (True, False)]


@dataclass(frozen=True)
class Forgery:
    name: str
    jose: dict[str, object]
    sign: Callable[[bytes], bytes]


def jws(
    jose: dict[str, object], sign: Callable[[bytes], bytes], padded: bool, detached: bool
) -> str:
    part0 = b64url(json.dumps(jose, separators=(",", ":")).encode(), padded=False)
    encoded = b64url(BODY, padded=padded)
    signature = b64url(sign(f"{part0}.{encoded}".encode()), padded=False)
    return f"{part0}.{'' if detached else encoded}.{signature}"


def headers(signature: str) -> dict[str, str]:
    return {"X-WSM-SIGNATURE": signature, "x-knox-nonce": "n-" + signature[-12:]}


def rs256(signer: Signer) -> Callable[[bytes], bytes]:
    return lambda data: signer.key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def hs256(key: bytes) -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(key, data, hashlib.sha256).digest()


def forgeries(trusted: Signer, attacker: Signer, server: Tap) -> list[Forgery]:
    public = trusted.cert.public_key()
    spki_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    spki_der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    cert_der = trusted.cert.public_bytes(serialization.Encoding.DER)
    attacker_der = base64.b64encode(attacker.cert.public_bytes(serialization.Encoding.DER))
    numbers = attacker.key.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "n": b64url(numbers.n.to_bytes(256, "big"), padded=False),
        "e": b64url(numbers.e.to_bytes(3, "big"), padded=False),
    }
    rs = {"alg": "RS256", "typ": "JWT"}
    return [
        Forgery("alg-none-empty", {"alg": "none"}, lambda data: b""),
        Forgery("alg-none-garbage", {"alg": "none"}, lambda data: b"x" * 256),
        Forgery("alg-None", {"alg": "None"}, lambda data: b"\0"),
        Forgery("hs256-spki-pem", {"alg": "HS256"}, hs256(spki_pem)),
        Forgery("hs256-spki-der", {"alg": "HS256"}, hs256(spki_der)),
        Forgery("hs256-cert-pem", {"alg": "HS256"}, hs256(trusted.pem)),
        Forgery("hs256-cert-der", {"alg": "HS256"}, hs256(cert_der)),
        Forgery("hs256-as-rs256", rs, hs256(spki_pem)),
        Forgery("attacker-key", rs, rs256(attacker)),
        Forgery("embedded-jwk", rs | {"jwk": jwk}, rs256(attacker)),
        Forgery("jku", rs | {"jku": server.url + "/jwks.json", "kid": "evil"}, rs256(attacker)),
        Forgery("x5u", rs | {"x5u": server.url + "/cert.pem"}, rs256(attacker)),
        Forgery("x5c", rs | {"x5c": [attacker_der.decode()]}, rs256(attacker)),
        Forgery("rs512-attacker", {"alg": "RS512", "jku": server.url + "/jwks.json"},
                lambda data: attacker.key.sign(data, padding.PKCS1v15(), hashes.SHA512())),
    ]  # fmt: skip

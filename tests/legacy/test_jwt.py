"""The JWTs have exactly the header and claims Samsung's knox-token-library-js makes."""

from __future__ import annotations

import base64
import json
import re
import uuid

import pytest
from cryptography.hazmat.primitives import serialization as s

from knoxhook.legacy import jwt
from knoxhook.legacy.keys import parse_keys
from tests.legacy.conftest import keys_document, rsa_key, spki_b64

UUID1 = r"[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def _part(token: str, index: int) -> bytes:
    part = token.split(".")[index]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_client_identifier_jwt_has_samsungs_header_claims_and_order() -> None:
    keys = parse_keys(json.dumps(keys_document(rsa_key(0), "der-pkcs1-pkcs1")).encode())
    token = jwt.sign_client_identifier(keys, "my-id", now=1_700_000_000.7)
    assert _part(token, 0) == b'{"alg":"RS512","typ":"JWT"}'
    claims = json.loads(_part(token, 1))
    assert list(claims) == ["clientIdentifier", "publicKey", "iat", "exp", "aud", "jti"]
    assert claims["clientIdentifier"] == "my-id"
    assert claims["publicKey"] == spki_b64(rsa_key(0))  # SPKI, though Public was PKCS#1
    assert (claims["iat"], claims["exp"]) == (1_700_000_000, 1_700_001_800)
    assert claims["aud"] == "KnoxWSM"
    assert re.fullmatch(UUID1 + UUID1, claims["jti"])
    assert len(claims["jti"]) == 72
    assert "=" not in token


def test_access_token_jwt_verifies_with_the_public_key_and_uses_a_new_jti() -> None:
    keys = parse_keys(json.dumps(keys_document(rsa_key(0))).encode())
    first = jwt.sign_access_token(keys, "tok")
    second = jwt.sign_access_token(keys, "tok")
    decoded = jwt.verify(first, rsa_key(0).public_key())
    assert list(decoded.claims)[:2] == ["accessToken", "publicKey"]
    assert decoded.claims["accessToken"] == "tok"
    assert decoded.claims["jti"] != jwt.decode(second).claims["jti"]
    node = uuid.UUID(decoded.claims["jti"][:36]).node
    assert node & (1 << 40)  # a random node with the multicast bit, never the MAC


def test_verify_refuses_another_key_none_alg_and_garbage() -> None:
    keys = parse_keys(json.dumps(keys_document(rsa_key(0))).encode())
    token = jwt.sign_access_token(keys, "tok")
    with pytest.raises(jwt.JwtError, match="does not verify"):
        jwt.verify(token, rsa_key(1).public_key())
    none = jwt.b64url(b'{"alg":"none"}') + "." + token.split(".")[1] + ".AAAA"
    with pytest.raises(jwt.JwtError, match="alg is 'none'"):
        jwt.verify(none, rsa_key(0).public_key())
    for bad in ("", "a.b", "a.b.c.d", "!!.e30.x", "e30.e30=.x"):
        with pytest.raises(jwt.JwtError):
            jwt.verify(bad, rsa_key(0).public_key())


def test_the_signature_is_pkcs1_v15_sha512_over_the_first_two_parts() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    keys = parse_keys(json.dumps(keys_document(rsa_key(0))).encode())
    token = jwt.sign_client_identifier(keys, "x")
    head, body, _ = token.split(".")
    public = s.load_der_public_key(base64.b64decode(spki_b64(rsa_key(0))))
    public.verify(  # type: ignore[union-attr, call-arg]
        _part(token, 2), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA512()
    )

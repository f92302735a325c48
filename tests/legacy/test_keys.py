"""keys.json parsing: every encoding Samsung's library takes; errors name the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from knoxhook.errors import UsageError
from knoxhook.legacy.keys import load_keys, parse_keys
from tests.legacy.conftest import FORMATS, keys_document, rsa_key, spki_b64


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_encoding_gives_the_same_spki_public_key(
    keys_file: Callable[..., Path], fmt: str
) -> None:
    keys = load_keys(keys_file(fmt))
    assert keys.public_key_b64 == spki_b64(rsa_key(0))
    assert keys.identifier is None


def test_certificate_json_with_an_identifier_is_read_too(keys_file: Callable[..., Path]) -> None:
    keys = load_keys(keys_file(name="certificate.json", Identifier="abc-123"))
    assert keys.identifier == "abc-123"
    assert "abc-123" not in repr(keys)
    assert "PRIVATE" not in repr(keys)


def _error(document: object) -> str:
    with pytest.raises(UsageError) as exc:
        parse_keys(json.dumps(document).encode(), "keys.json")
    return exc.value.message


def test_a_missing_private_key_names_the_field() -> None:
    document = keys_document(rsa_key(0))
    del document["Private"]
    assert _error(document) == "keys.json: field 'Private' is missing or not a string"


def test_garbage_in_public_names_the_field_and_never_the_value() -> None:
    document = keys_document(rsa_key(0)) | {"Public": "bm90IGEga2V5"}
    message = _error(document)
    assert message == (
        "keys.json: field 'Public' is not an RSA public key (PEM or base64 DER, PKCS#1 or PKCS#8)"
    )
    assert "bm90" not in message


def test_a_private_key_that_is_not_base64_names_private() -> None:
    document = keys_document(rsa_key(0), "der-spki-pkcs8") | {"Private": "%%% not base64"}
    assert "field 'Private' is not an RSA private key" in _error(document)


def test_public_of_another_pair_is_refused() -> None:
    document = keys_document(rsa_key(0)) | {"Public": keys_document(rsa_key(1))["Public"]}
    assert _error(document) == "keys.json: field 'Public' is not the public half of 'Private'"


def test_a_non_string_identifier_names_it() -> None:
    assert _error(keys_document(rsa_key(0)) | {"Identifier": 12}) == (
        "keys.json: field 'Identifier' is not a string"
    )


def test_an_encrypted_private_key_is_refused_with_the_reason() -> None:
    from cryptography.hazmat.primitives import serialization as s

    pem = rsa_key(0).private_bytes(
        s.Encoding.PEM, s.PrivateFormat.PKCS8, s.BestAvailableEncryption(b"pw")
    )
    document = keys_document(rsa_key(0)) | {"Private": pem.decode()}
    assert "field 'Private' is an encrypted key" in _error(document)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[1, 2]", "keys.json is not a JSON object with 'Public' and 'Private'"),
        (b"{nope", "keys.json is not JSON (Expecting property name enclosed in double quotes)"),
        (b"\xff\xfe{}", "keys.json is not UTF-8 text: not a keys.json"),
    ],
)
def test_a_file_that_is_not_a_keys_json_is_a_usage_error(data: bytes, message: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse_keys(data, "keys.json")
    assert exc.value.message == message
    assert exc.value.exit_code == 2


def test_a_missing_file_and_a_directory_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot read the keys file .*nope\.json"):
        load_keys(tmp_path / "nope.json")
    with pytest.raises(UsageError, match="is a directory"):
        load_keys(tmp_path)


def test_canonical_json_round_trips(keys_file: Callable[..., Path]) -> None:
    keys = load_keys(keys_file("pem-pkcs1-pkcs8"))
    again = parse_keys(keys.to_json())
    assert again.public_key_b64 == keys.public_key_b64
    assert again.private_key.private_numbers() == keys.private_key.private_numbers()

"""keys.json (also certificate.json) from the Knox Cloud API portal: parse and check it.

Fields [doc, knox-api.md §2b]: ``Public`` and ``Private`` (PEM, or base64 of the DER;
PKCS#1 or PKCS#8, as Samsung's npm library accepts), sometimes ``Identifier``. A file
that cannot be used is a ``UsageError`` naming the file and the field, never its value.
The public key that goes on the wire is the base64 of the DER SubjectPublicKeyInfo
re-encoded from ``Public`` (what the library's ``generateBase64EncodedStringPublicKey``
returns), not ``Public`` verbatim.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from knoxhook import wire
from knoxhook.errors import UsageError

MAX_KEYS_BYTES = 64 * 1024  # a keys.json is ~2.5 KB
HINT = "download keys.json again from the Knox Cloud API portal (us-/eu-api-portal.samsungknox.com)"


@dataclass(frozen=True)
class LegacyKeys:
    """A parsed key pair. ``repr`` never shows the private key."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    public_key: rsa.RSAPublicKey = field(repr=False)
    public_key_b64: str  # base64 DER SubjectPublicKeyInfo: the wire form
    identifier: str | None = field(default=None, repr=False)

    def to_json(self) -> bytes:
        """A canonical keys.json (PKCS#8 and SPKI, base64 DER): what the keyring keeps."""
        der = self.private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        document = {
            wire.KEYS_PUBLIC: self.public_key_b64,
            wire.KEYS_PRIVATE: base64.b64encode(der).decode("ascii"),
        }
        return json.dumps(document, separators=(",", ":")).encode("ascii")


def spki_b64(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def _der(text: str) -> bytes | None:
    """The DER bytes of a PEM block or a bare base64 string; None when neither."""
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        lines = [line.strip() for line in stripped.splitlines()]
        body = "".join(line for line in lines if line and not line.startswith("-----"))
        if any(":" in line for line in lines):  # "Proc-Type: 4,ENCRYPTED" headers
            return None
    else:
        body = "".join(stripped.split())
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None


def _problem(source: str, name: str, what: str) -> UsageError:
    return UsageError(f"{source}: field {name!r} {what}", hint=HINT)


def parse_private(value: Any, source: str) -> rsa.RSAPrivateKey:
    name = wire.KEYS_PRIVATE
    if not isinstance(value, str) or not value.strip():
        raise _problem(source, name, "is missing or not a string")
    if "ENCRYPTED" in value:
        raise _problem(source, name, "is an encrypted key; knoxhook needs it unencrypted")
    der = _der(value)
    key: Any = None
    if der is not None:
        try:
            key = serialization.load_der_private_key(der, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            key = None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise _problem(
            source, name, "is not an RSA private key (PEM or base64 DER, PKCS#1 or PKCS#8)"
        )
    return key


def parse_public(value: Any, source: str) -> rsa.RSAPublicKey:
    name = wire.KEYS_PUBLIC
    if not isinstance(value, str) or not value.strip():
        raise _problem(source, name, "is missing or not a string")
    der = _der(value)
    key: Any = None
    if der is not None:
        try:  # SubjectPublicKeyInfo ("PUBLIC KEY") or PKCS#1 ("RSA PUBLIC KEY")
            key = serialization.load_der_public_key(der)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            key = None
    if not isinstance(key, rsa.RSAPublicKey):
        raise _problem(
            source, name, "is not an RSA public key (PEM or base64 DER, PKCS#1 or PKCS#8)"
        )
    return key


def parse_keys(data: bytes, source: str = "keys.json") -> LegacyKeys:
    """Parse the bytes of a keys.json; ``source`` names it in errors."""
    if len(data) > MAX_KEYS_BYTES:
        raise UsageError(f"{source} is larger than {MAX_KEYS_BYTES} bytes: not a keys.json")
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise UsageError(f"{source} is not UTF-8 text: not a keys.json", hint=HINT) from None
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "invalid"
        raise UsageError(f"{source} is not JSON ({reason})", hint=HINT) from None
    if not isinstance(document, dict):
        raise UsageError(f"{source} is not a JSON object with 'Public' and 'Private'", hint=HINT)
    public = parse_public(document.get(wire.KEYS_PUBLIC), source)
    private = parse_private(document.get(wire.KEYS_PRIVATE), source)
    if private.public_key().public_numbers() != public.public_numbers():
        raise _problem(source, wire.KEYS_PUBLIC, "is not the public half of 'Private'")
    identifier = document.get(wire.KEYS_IDENTIFIER)
    if identifier is not None and not isinstance(identifier, str):
        raise _problem(source, wire.KEYS_IDENTIFIER, "is not a string")
    return LegacyKeys(private, public, spki_b64(public), identifier or None)


def load_keys(path: Path) -> LegacyKeys:
    """Read and parse a keys.json / certificate.json file."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_KEYS_BYTES + 1)
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a keys.json file") from None
    except OSError as exc:
        raise UsageError(
            f"cannot read the keys file {path}: {exc.strerror or type(exc).__name__}",
            hint="pass the keys.json (or certificate.json) downloaded from the Knox Cloud API "
            "portal",
        ) from None
    return parse_keys(data, str(path))

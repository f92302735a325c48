"""Legacy-auth test helpers: keys.json in every encoding, and an emulator with a clock.

``keys_file(fmt)`` writes a fresh keys.json (``fmt`` picks the encodings, as Samsung's npm
library accepts them); ``legacy_emulator`` is an emulator whose legacy client
``IDENTIFIER`` is registered with that key pair, on a clock the test can move.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import rsa

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle

IDENTIFIER = "test-client-identifier-7f3a9c"

# (Public format, Private format, PEM?) -> keys.json encodings
FORMATS = {
    "pem-spki-pkcs1": (
        s.PublicFormat.SubjectPublicKeyInfo,
        s.PrivateFormat.TraditionalOpenSSL,
        True,
    ),
    "pem-pkcs1-pkcs8": (s.PublicFormat.PKCS1, s.PrivateFormat.PKCS8, True),
    "der-spki-pkcs8": (s.PublicFormat.SubjectPublicKeyInfo, s.PrivateFormat.PKCS8, False),
    "der-pkcs1-pkcs1": (s.PublicFormat.PKCS1, s.PrivateFormat.TraditionalOpenSSL, False),
}

_KEYS: list[rsa.RSAPrivateKey] = []


def rsa_key(index: int = 0) -> rsa.RSAPrivateKey:
    """Key pairs shared by the session (2048-bit generation costs ~50 ms each)."""
    while len(_KEYS) <= index:
        _KEYS.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _KEYS[index]


def keys_document(key: rsa.RSAPrivateKey, fmt: str = "pem-spki-pkcs1") -> dict[str, str]:
    public_format, private_format, pem = FORMATS[fmt]
    encoding = s.Encoding.PEM if pem else s.Encoding.DER
    public = key.public_key().public_bytes(encoding, public_format)
    private = key.private_bytes(encoding, private_format, s.NoEncryption())
    if pem:
        return {"Public": public.decode(), "Private": private.decode()}
    return {
        "Public": base64.b64encode(public).decode(),
        "Private": base64.b64encode(private).decode(),
    }


def spki_b64(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


@pytest.fixture
def keys_file(tmp_path: Path) -> Callable[..., Path]:
    """``keys_file(fmt="pem-spki-pkcs1", index=0, name="keys.json", **extra)`` -> path."""

    def make(
        fmt: str = "pem-spki-pkcs1", index: int = 0, name: str = "keys.json", **extra: Any
    ) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(keys_document(rsa_key(index), fmt) | extra))
        return path

    return make


@dataclass
class Clock:
    """The emulator's clock: real time plus ``offset`` seconds."""

    offset: float = 0.0
    base: Callable[[], float] = time.time

    def __call__(self) -> float:
        return self.base() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def legacy_emulator(clock: Clock) -> Iterator[EmulatorHandle]:
    """An emulator with legacy client ``IDENTIFIER`` registered with ``rsa_key(0)``."""
    from knoxhook.emulator import legacy
    from knoxhook.emulator.testing import running_emulator

    with running_emulator(now=clock) as handle:
        legacy.install(handle.app.app, {IDENTIFIER: spki_b64(rsa_key(0))}, clock)
        yield handle


def requests_to(handle: EmulatorHandle, key: str) -> int:
    """How many requests the emulator counted for ``"METHOD /path"``."""
    count: int = handle.stats()["requests"].get(key, 0)
    return count


ACCESS_TOKEN_REQUEST = "POST /ams/v1/users/accesstoken"


from tests.cli.conftest import cli  # noqa: E402, F401 - the in-process CLI fixture

"""Fixtures every test gets: isolated config/cache dirs, no real keyring, no stray env."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle
    from tests.fakes import MemoryKeyring

# Samsung's public certificates, copied from shared/fixtures/samsung/ so a clone anywhere
# runs the tests (tests/fixtures/samsung/README.md).
SAMSUNG_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "samsung"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point knoxhook at empty per-test config/cache dirs and a null keyring."""
    for name in (
        "KNOXHOOK_PROFILE",
        "KNOXHOOK_BASE_URL",
        "KNOXHOOK_TOKEN_URL",
        "KNOXHOOK_CLIENT_ID",
        "KNOXHOOK_CLIENT_SECRET",
        "KNOXHOOK_SCOPE",
        "KNOXHOOK_TENANT_ID",
        "KNOXHOOK_AUTH",
        "KNOXHOOK_API_VERSION",
        "KNOXHOOK_KEYS_FILE",
        "KNOXHOOK_CLIENT_IDENTIFIER",
        "KNOXHOOK_ALLOW_HTTP",
        "NO_COLOR",
    ):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("KNOXHOOK_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("KNOXHOOK_CACHE_DIR", str(home / "cache"))
    # keyring: the null backend unless a test installs its own (tests/fakes)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    return home


@pytest.fixture
def samsung_cert_2022() -> bytes:
    return (SAMSUNG_FIXTURES / "samsung-knox-validation-certificate-2022.pem").read_bytes()


@pytest.fixture
def samsung_cert_2024() -> bytes:
    return (SAMSUNG_FIXTURES / "samsung-knox-validation-certificate-2024.pem").read_bytes()


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    """A fresh Knox emulator on 127.0.0.1 (demo client, padded signing) for one test."""
    from knoxhook.emulator.testing import running_emulator

    with running_emulator() as handle:
        yield handle


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """An in-memory OS keyring for this test (``tests.fakes.MemoryKeyring``); ``.store``
    maps (service, username) to the secret."""
    import keyring
    from keyring.backends import null

    from tests.fakes import MemoryKeyring

    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(null.Keyring())

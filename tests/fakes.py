"""Test doubles: keyring backends that keep secrets in memory or in a JSON file.

``MemoryKeyring`` works in-process (the ``memory_keyring`` fixture installs it).
``FileKeyring`` is for child processes: ``PYTHON_KEYRING_BACKEND=tests.fakes.FileKeyring``
and ``KNOXHOOK_TEST_KEYRING_FILE=<path>`` (run the child with the repo root as cwd).
``FailingKeyring`` raises on every call, like a locked or broken OS keyring.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError

KEYRING_FILE_ENV = "KNOXHOOK_TEST_KEYRING_FILE"


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.store.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


class FileKeyring(KeyringBackend):
    """A keyring in the JSON file named by ``KNOXHOOK_TEST_KEYRING_FILE`` (tests only)."""

    priority = 1  # type: ignore[assignment]

    @property
    def path(self) -> Path:
        return Path(os.environ[KEYRING_FILE_ENV])

    def _load(self) -> dict[str, str]:
        try:
            data: dict[str, str] = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return data

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}|{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}|{username}"] = password
        self.path.write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}|{username}", None) is None:
            raise PasswordDeleteError("not found")
        self.path.write_text(json.dumps(data))


class FailingKeyring(KeyringBackend):
    """Every call fails, as a locked or broken OS keyring does."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringError("the keyring is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringError("the keyring is locked")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringError("the keyring is locked")

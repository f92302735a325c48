"""Fixtures for the subscriptions-as-code tests: one emulator per module, reset per test,
and a real ``SubscriptionService`` (KnoxClient over HTTP) configured for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from knoxhook.client import KnoxClient
from knoxhook.config import load_settings
from knoxhook.emulator.testing import EmulatorHandle, running_emulator
from knoxhook.httpoptions import HttpOptions
from knoxhook.retry import RetryPolicy
from knoxhook.subscriptions import SubscriptionService


@pytest.fixture(scope="module")
def module_emulator() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        yield handle


@pytest.fixture
def emulator(module_emulator: EmulatorHandle) -> EmulatorHandle:
    """The module's emulator with a fresh state (no subscriptions, faults or counters)."""
    module_emulator.reset()
    return module_emulator


def make_service(emu: EmulatorHandle) -> tuple[KnoxClient, SubscriptionService]:
    settings = load_settings(overrides={"base_url": emu.base_url, "client_id": emu.client_id})
    retry = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, jitter=False)
    client = KnoxClient(settings, secret=emu.client_secret, http=HttpOptions(retry=retry))
    return client, SubscriptionService(client)


@pytest.fixture
def service(emulator: EmulatorHandle) -> Iterator[SubscriptionService]:
    client, svc = make_service(emulator)
    with client:
        yield svc


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str], Path]:
    """Write a knoxhook.yaml in the test's directory; its path."""

    def write(text: str) -> Path:
        path = tmp_path / "knoxhook.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


# --- through the real CLI (tests/cli/conftest.py's helper) -------------------------------
from tests.cli.conftest import cli as cli  # noqa: E402  (the fixture, re-exported)


@pytest.fixture
def knox(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> EmulatorHandle:
    """The reset emulator, the CLI configured for it through the environment (as a CI
    job is), and the test's directory as the working directory (./knoxhook.yaml)."""
    monkeypatch.setenv("KNOXHOOK_BASE_URL", emulator.base_url)
    monkeypatch.setenv("KNOXHOOK_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", emulator.client_secret)
    monkeypatch.chdir(tmp_path)
    return emulator

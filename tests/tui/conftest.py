"""Fixtures for the TUI tests: the real service on the real emulator, and Pilot helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from knoxhook.client import open_client
from knoxhook.config import Settings, load_settings
from knoxhook.subscriptions import SubscriptionService

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle
    from knoxhook.tui.app import KnoxhookApp


@pytest.fixture
def knox_settings(emulator: EmulatorHandle) -> Settings:
    return load_settings(overrides={"base_url": emulator.base_url, "client_id": emulator.client_id})


@pytest.fixture
def service(emulator: EmulatorHandle, knox_settings: Settings) -> Iterator[SubscriptionService]:
    """What the TUI is given in real use: SubscriptionService over KnoxClient."""
    with open_client(knox_settings, secret=emulator.client_secret) as client:
        yield SubscriptionService(client)


@pytest.fixture
def other_client(
    emulator: EmulatorHandle, knox_settings: Settings
) -> Iterator[SubscriptionService]:
    """A second, independent client: someone else (the CLI) changing things meanwhile."""
    with open_client(knox_settings, secret=emulator.client_secret) as client:
        yield SubscriptionService(client)


async def settle(app: KnoxhookApp, pilot: Any, rounds: int = 3) -> None:
    """Wait (bounded) until the backend workers are done and the screen has caught up."""
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()


def table_rows(app: KnoxhookApp, table_id: str) -> list[tuple[str, ...]]:
    from textual.widgets import DataTable

    table = app.query_one(f"#{table_id}", DataTable)
    return [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]

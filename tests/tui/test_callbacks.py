"""Live callbacks in the TUI: the real receiver in-thread, the emulator delivering to it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from knoxhook.config import Settings
from knoxhook.emulator.testing import EmulatorHandle
from knoxhook.subscriptions import SubscriptionService
from knoxhook.tui.app import KnoxhookApp
from knoxhook.tui.receiving import start_receiver
from knoxhook.tui.sources import FileFollower
from tests.tui.conftest import settle, table_rows

SIZE = (160, 45)


async def wait_rows(app: KnoxhookApp, pilot: Any, count: int, timeout: float = 10) -> None:
    """Pause (bounded) until the callbacks table has ``count`` rows."""
    for _ in range(int(timeout / 0.05)):
        if len(table_rows(app, "cb-table")) >= count:
            return
        await pilot.pause(0.05)
    raise AssertionError(f"expected {count} callback rows, got {table_rows(app, 'cb-table')}")


def test_callback_appears_live_with_verdict_event_nonce_and_payload(
    emulator: EmulatorHandle,
    knox_settings: Settings,
    service: SubscriptionService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # as `knoxhook ui --listen 0` does: the stored certificate, downloaded from "Knox"
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", emulator.client_secret)
    with start_receiver(knox_settings, "127.0.0.1", 0) as relay:
        sub = service.create(relay.url, ["KG_DEVICE_LOCKED"])

        async def scenario() -> None:
            app = KnoxhookApp(service, callbacks=relay)
            async with app.run_test(size=SIZE) as pilot:
                await settle(app, pilot)
                await pilot.press("3")
                delivery = await asyncio.to_thread(emulator.trigger, "KG_DEVICE_LOCKED")
                await wait_rows(app, pilot, 1)
                [row] = table_rows(app, "cb-table")
                assert row[1:4] == ("accepted", "KG_DEVICE_LOCKED", sub.subscription_id)
                assert row[4] != "-"
                assert row[4] in json.dumps(delivery)  # the nonce the emulator sent
                assert app.last_message == (
                    f"callback: accepted KG_DEVICE_LOCKED for {sub.subscription_id}"
                )
                detail = json.loads(str(app.query_one("#cb-detail").content))
                assert detail["verdict"] == "accepted"
                assert detail["body"]["event"] == "KG_DEVICE_LOCKED"
                assert detail["body"]["payload"]["deviceStatus"] == "Locked"
                # a second one arrives below the first
                await asyncio.to_thread(emulator.trigger, "KG_DEVICE_LOCKED")
                await wait_rows(app, pilot, 2)
                assert table_rows(app, "cb-table")[1][1] == "accepted"
                # a forgery is shown too, as rejected with the receiver's reason, and
                # without the event and subscription its unverified body claims
                forged = json.dumps({"subscriptionId": "1", "event": "KG_DEVICE_LOCKED"})
                headers = {"X-WSM-SIGNATURE": "e30.e30.AAAA", "x-knox-nonce": "forged-1"}
                answer = await asyncio.to_thread(
                    httpx2.post, relay.url, content=forged, headers=headers
                )
                assert answer.status_code == 400
                await wait_rows(app, pilot, 3)
                row = table_rows(app, "cb-table")[2]
                assert row[1:] == ("rejected (malformed_signature_header)", "-", "-", "forged-1")
                assert app.last_message == "callback: rejected (malformed_signature_header)"

        asyncio.run(scenario())


def test_follow_shows_recorded_callbacks_as_lines_are_appended(
    service: SubscriptionService, tmp_path: Path
) -> None:
    record = tmp_path / "callbacks.ndjson"
    line = {
        "received_at": "2026-11-29T10:11:12.000Z",
        "verdict": "rejected",
        "reason": "bad_signature",
        "event": None,
        "subscriptionId": None,
        "nonce": "n-1",
        "body": json.dumps({"event": "KC_DEVICE_STATUS_CHANGE", "subscriptionId": "77"}),
    }
    record.write_text(json.dumps(line) + "\n")

    async def scenario() -> None:
        app = KnoxhookApp(service, callbacks=FileFollower(record, interval=0.02))
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await wait_rows(app, pilot, 1)
            assert table_rows(app, "cb-table") == [
                ("10:11:12", "rejected (bad_signature)", "-", "-", "n-1")  # not its claims
            ]
            with record.open("a") as fh:
                accepted = {**line, "verdict": "accepted", "reason": None, "nonce": "n-2"}
                fh.write(json.dumps(accepted) + "\n")
            await wait_rows(app, pilot, 2)
            assert table_rows(app, "cb-table")[1][1:2] == ("accepted",)

    asyncio.run(scenario())

"""Make docs/ui.svg and docs/ui-callbacks.svg: `knoxhook ui` on the emulator, 160x45.

Run from the repository root: ``uv run python docs/ui-screenshot.py``. Everything runs
in-process on 127.0.0.1 (emulator, receiver, app under Textual's Pilot); nothing else
is touched (config and cache go to a temporary directory).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knoxhook.tui.app import KnoxhookApp

DOCS = Path(__file__).resolve().parent


async def shoot(app: KnoxhookApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        for _ in range(3):
            await app.workers.wait_for_complete()
            await pilot.pause()
        app.save_screenshot(str(DOCS / "ui.svg"))
        await pilot.press("3")
        await pilot.pause()
        app.save_screenshot(str(DOCS / "ui-callbacks.svg"))


def main() -> None:
    home = Path(tempfile.mkdtemp())
    os.environ.update(
        KNOXHOOK_CONFIG_DIR=str(home / "config"),
        KNOXHOOK_CACHE_DIR=str(home / "cache"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    import httpx2

    from knoxhook.client import open_client
    from knoxhook.config import load_settings
    from knoxhook.emulator.testing import running_emulator
    from knoxhook.subscriptions import SubscriptionService
    from knoxhook.tui.app import KnoxhookApp
    from knoxhook.tui.receiving import start_receiver
    from knoxhook.tui.status import status_provider

    with running_emulator() as emu:
        os.environ["KNOXHOOK_CLIENT_SECRET"] = emu.client_secret
        settings = load_settings(overrides={"base_url": emu.base_url, "client_id": emu.client_id})
        with open_client(settings) as client, start_receiver(settings) as relay:
            service = SubscriptionService(client)
            service.create("https://hooks.example.com/knox/dms", ["KDMS_DEVICE_UPLOAD"])
            service.create(
                "https://hooks.example.com/knox/guard", ["KG_DEVICE_LOCKED", "KG_DEVICE_UNLOCKED"]
            )
            service.create(relay.url, ["KAI_BATTERY_STATUS", "KG_DEVICE_ENROLLED"])
            emu.trigger("KG_DEVICE_ENROLLED")
            emu.trigger("KAI_BATTERY_STATUS")
            forged = b'{"subscriptionId": "1", "event": "KG_DEVICE_ENROLLED", "payload": {}}'
            httpx2.post(
                relay.url,
                content=forged,
                headers={"X-WSM-SIGNATURE": "e30.e30.AAAA", "x-knox-nonce": "forged-1"},
            )
            app = KnoxhookApp(
                service,
                callbacks=relay,
                status=status_provider(settings),
                subtitle=f"profile default · {emu.base_url} · receiving on {relay.url}",
            )
            asyncio.run(shoot(app))


if __name__ == "__main__":
    main()

"""The UI at 60 and 160 columns (issue 9 defect 5) and URL passwords in it (defect 9),
with Textual's pilot, the real service and the emulator."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from textual.widgets import DataTable, Input, Label, Static

from knoxhook.subscriptions import SubscriptionService
from knoxhook.tui.app import KnoxhookApp
from knoxhook.tui.screens import ConfirmScreen, SubscriptionForm
from tests.tui.conftest import settle, table_rows

RECEIVER = "http://127.0.0.1:45678/"


class _Source:
    """A callback source that sends nothing: as `--listen` shows it, without a port."""

    description = f"receiver on {RECEIVER}"

    def start(self, emit: Any) -> None:
        pass

    def stop(self) -> None:
        pass


def _visible_columns(app: KnoxhookApp, table_id: str) -> list[str]:
    """The headings whose whole column lies inside the table's visible width."""
    table = app.query_one(f"#{table_id}", DataTable)
    shown, x = [], 0
    for column in table.columns.values():
        x += column.get_render_width(table)
        if x <= table.scrollable_content_region.width:
            shown.append(column.label.plain)
    return shown


def test_at_160_columns_every_subscription_column_shows_and_the_json_pane_goes_below(
    service: SubscriptionService,
) -> None:
    # Was: the table beside the JSON pane got 106 columns of the 147 it needs: "created"
    # cut, "updated" hidden.
    service.create(
        "https://hooks.example.com/knox/callbacks", ["KG_DEVICE_LOCKED", "KDMS_DEVICE_UPLOAD"]
    )

    async def scenario() -> None:
        app = KnoxhookApp(service, callbacks=_Source())
        async with app.run_test(size=(160, 45)) as pilot:
            await settle(app, pilot)
            assert _visible_columns(app, "subs") == ["id", "URL", "events", "created", "updated"]
            view = app.subs_view
            assert view.has_class("stacked")
            detail = app.query_one("#sub-detail", Static)
            assert detail.region.y > app.query_one("#subs", DataTable).region.y
        app = KnoxhookApp(service, callbacks=_Source())
        async with app.run_test(size=(240, 45)) as pilot:  # room for both: side by side
            await settle(app, pilot)
            assert not app.subs_view.has_class("stacked")
            assert _visible_columns(app, "subs") == ["id", "URL", "events", "created", "updated"]

    asyncio.run(scenario())


def test_at_60_columns_the_receiver_url_is_on_screen(service: SubscriptionService) -> None:
    # Was: only in the header's subtitle, cut after "profile default · http://127.0".
    async def scenario() -> None:
        app = KnoxhookApp(
            service,
            callbacks=_Source(),
            subtitle=f"profile default · http://127.0.0.1:41234 · receiving on {RECEIVER}",
        )
        async with app.run_test(size=(60, 30)) as pilot:
            await settle(app, pilot)
            line = app.query_one("#source", Static)
            assert str(line.content) == f"receiver on {RECEIVER}"
            assert line.region.width == 60
            assert line.region.height == 1
            assert len(f"receiver on {RECEIVER}") + 2 <= line.region.width  # not cut

    asyncio.run(scenario())


def test_a_url_password_shows_as_stars_in_the_table_detail_and_delete_question(
    service: SubscriptionService,
) -> None:
    url = "https://hook:s3cr3t-pw@hooks.example.com/knox"
    shown = "https://hook:***@hooks.example.com/knox"
    sub = service.create(url, ["KG_DEVICE_LOCKED"])

    async def scenario() -> None:
        app = KnoxhookApp(service)
        async with app.run_test(size=(240, 45)) as pilot:
            await settle(app, pilot)
            assert table_rows(app, "subs")[0][1] == shown
            detail = json.loads(str(app.query_one("#sub-detail", Static).content))
            assert detail["url"] == shown
            await pilot.press("d")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            question = str(app.screen.query_one("#question", Label).content)
            assert shown in question
            assert "s3cr3t-pw" not in question
            await pilot.press("n")
            await settle(app, pilot)
            # the form shows it as *** too; saved as shown, the URL is kept as it was
            await pilot.press("e")
            await pilot.pause()
            form = app.screen
            assert isinstance(form, SubscriptionForm)
            assert form.query_one("#url", Input).value == shown
            await pilot.press("tab", "space", "ctrl+s")  # add KG_DEVICE_ENROLLED
            await settle(app, pilot)
            assert app.last_error == ""
            now = service.get(sub.subscription_id)
            assert now.url == url
            assert set(now.events) == {"KG_DEVICE_ENROLLED", "KG_DEVICE_LOCKED"}
            # changed but with *** still in it: the password must be typed again
            await pilot.press("e")
            await pilot.pause()
            form = app.screen
            assert isinstance(form, SubscriptionForm)
            await pilot.press("end", *"/v2", "ctrl+s")
            await pilot.pause()
            assert str(form.query_one("#form-error", Label).content) == (
                "type the URL's password again: the form shows it as ***"
            )
            assert service.get(sub.subscription_id).url == url

    asyncio.run(scenario())

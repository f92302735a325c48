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


LONG_URL = "https://hooks.example.com/knox/callbacks/production/eu-west"


def _fits(app: KnoxhookApp) -> bool:
    table = app.query_one("#subs", DataTable)
    return table.max_scroll_x == 0 and table.virtual_size.width <= table.size.width


def test_at_60_columns_the_subscription_table_fits_without_scrolling_sideways(
    service: SubscriptionService,
) -> None:
    # Was: 60 columns showed "id" and part of "URL"; the rest was off to the right.
    first = service.create(LONG_URL, ["KG_DEVICE_LOCKED", "KDMS_DEVICE_UPLOAD"])
    second = service.create("https://b.example/k", ["KC_DEVICE_STATUS_CHANGE"])

    async def scenario() -> None:
        app = KnoxhookApp(service, callbacks=_Source())
        async with app.run_test(size=(60, 24)) as pilot:
            await settle(app, pilot)
            assert app.subs_view.has_class("stacked")
            assert _fits(app)
            assert _visible_columns(app, "subs") == ["id", "URL", "events"]  # no timestamps
            rows = table_rows(app, "subs")
            assert [r[0] for r in rows] == [first.subscription_id, second.subscription_id]
            url, events = rows[0][1], rows[0][2]
            assert url.endswith("…")
            assert LONG_URL.startswith(url[:-1])
            assert len(url) >= 12
            assert events.endswith("…")
            assert "KG_DEVICE_LOCKED".startswith(events[:-1])
            assert rows[1][1] == "https://b.example/k"  # short enough: whole
            # in full below the table, for the selected one
            detail = json.loads(str(app.query_one("#sub-detail", Static).content))
            assert detail["url"] == LONG_URL
            assert detail["events"] == ["KG_DEVICE_LOCKED", "KDMS_DEVICE_UPLOAD"]
            await pilot.press("down")
            await pilot.pause()
            chosen = app.selected()
            assert chosen is not None
            assert chosen.subscription_id == second.subscription_id
            # wider again: every column back, whole, and the cursor where it was
            await pilot.resize_terminal(240, 45)
            await settle(app, pilot)
            assert _fits(app)
            assert _visible_columns(app, "subs") == ["id", "URL", "events", "created", "updated"]
            assert table_rows(app, "subs")[0][1] == LONG_URL
            chosen = app.selected()
            assert chosen is not None
            assert chosen.subscription_id == second.subscription_id

    asyncio.run(scenario())


def test_plan_columns_drops_timestamps_first_then_cuts_url_and_events() -> None:
    from knoxhook.tui.views import plan_columns

    natural = {"id": 24, "URL": 40, "events": 36, "created": 19, "updated": 19}
    assert plan_columns(natural, 200) == natural  # 148 cells: all whole
    assert plan_columns(natural, 130) == {"id": 24, "URL": 40, "events": 36, "created": 19}
    assert plan_columns(natural, 106) == {"id": 24, "URL": 40, "events": 36}
    narrow = plan_columns(natural, 58)
    assert list(narrow) == ["id", "URL", "events"]
    assert narrow["id"] == 24  # never cut
    assert sum(w + 2 for w in narrow.values()) == 58
    assert narrow["URL"] >= 2 * narrow["events"]  # the URL keeps two thirds
    short = plan_columns({**natural, "URL": 10}, 58)
    assert short["URL"] == 10  # a short URL stays whole; events get the rest
    assert sum(w + 2 for w in short.values()) == 58


class _Feed:
    """A callback source that hands the app the records a test gives it."""

    description = "a test feed"

    def __init__(self) -> None:
        self.emit: Any = None

    def start(self, emit: Any) -> None:
        self.emit = emit

    def stop(self) -> None:
        pass


def _record(i: int, verdict: str = "accepted", reason: str | None = None) -> dict[str, Any]:
    return {
        "received_at": f"2026-12-02T04:10:{i:02d}.000Z",
        "verdict": verdict,
        "reason": reason,
        "event": "KDMS_DEVICE_UPLOAD" if verdict == "accepted" else None,
        "subscriptionId": "63689d7e4ee2721f7b50d2b1" if verdict == "accepted" else None,
        "nonce": f"{i:02d}" + "d1547ea8bf43537413f34a9c0abf13",
        "body": "{}",
    }


def test_at_60_columns_the_callbacks_table_fits_without_scrolling_sideways(
    service: SubscriptionService,
) -> None:
    # Was: 60 columns showed time, verdict and part of the event; the rest was off to
    # the right. Now the subscription id is left out, the verdict and nonce are cut.
    feed = _Feed()

    async def scenario() -> None:
        app = KnoxhookApp(service, callbacks=feed)
        async with app.run_test(size=(60, 24)) as pilot:
            await settle(app, pilot)
            await pilot.press("3")
            await pilot.pause()
            feed.emit(_record(1))
            feed.emit(_record(2, "rejected", "replayed_signature"))
            for _ in range(40):
                if len(table_rows(app, "cb-table")) == 2:
                    break
                await pilot.pause(0.05)
            await pilot.pause()
            table = app.query_one("#cb-table", DataTable)
            assert table.max_scroll_x == 0
            assert table.virtual_size.width <= table.size.width
            assert _visible_columns(app, "cb-table") == ["time", "verdict", "event", "nonce"]
            accepted, rejected = table_rows(app, "cb-table")
            assert accepted[:3] == ("04:10:01", "accepted", "KDMS_DEVICE_UPLOAD")
            assert rejected[1].endswith("…")
            assert "rejected (replayed_signature)".startswith(rejected[1][:-1])
            assert accepted[3].endswith("…")
            assert _record(1)["nonce"].startswith(accepted[3][:-1])
            detail = json.loads(str(app.query_one("#cb-detail", Static).content))
            assert detail["nonce"] == _record(1)["nonce"]  # in full below the table
            await pilot.resize_terminal(240, 45)
            await settle(app, pilot)
            await pilot.pause()
            assert _visible_columns(app, "cb-table") == [
                "time", "verdict", "event", "subscription", "nonce",
            ]  # fmt: skip
            assert table_rows(app, "cb-table")[0][4] == _record(1)["nonce"]

    asyncio.run(scenario())

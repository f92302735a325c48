"""The TUI against the real emulator on 127.0.0.1, with the real SubscriptionService."""

from __future__ import annotations

import asyncio
import json

from textual.widgets import Input, SelectionList, TabbedContent

from knoxhook.subscriptions import SubscriptionService
from knoxhook.tui.app import KnoxhookApp
from knoxhook.tui.screens import ConfirmScreen, SubscriptionForm
from tests.tui.conftest import settle, table_rows

SIZE = (160, 45)


def test_lists_subscriptions_with_detail_json_and_event_holders(
    service: SubscriptionService,
) -> None:
    first = service.create(
        "https://hooks.example.com/a", ["KG_DEVICE_LOCKED", "KDMS_DEVICE_UPLOAD"]
    )
    second = service.create("https://hooks.example.com/b", ["KC_DEVICE_STATUS_CHANGE"])

    async def scenario() -> None:
        app = KnoxhookApp(service)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            rows = table_rows(app, "subs")
            assert [r[:3] for r in rows] == [
                (first.subscription_id, "https://hooks.example.com/a",
                 "KG_DEVICE_LOCKED, KDMS_DEVICE_UPLOAD"),
                (second.subscription_id, "https://hooks.example.com/b", "KC_DEVICE_STATUS_CHANGE"),
            ]  # fmt: skip
            assert app.last_message == "2 subscriptions"
            detail = json.loads(str(app.query_one("#sub-detail").content))
            assert detail == first.to_json()
            await pilot.press("down")
            await pilot.pause()
            assert json.loads(str(app.query_one("#sub-detail").content))["url"].endswith("/b")
            await pilot.click("#--content-tab-events")  # the mouse works too
            await pilot.pause()
            assert app.query_one(TabbedContent).active == "events"
            held = {r[1]: r[2] for r in table_rows(app, "events-table")}
            assert held["KG_DEVICE_LOCKED"] == first.subscription_id
            assert held["KC_DEVICE_STATUS_CHANGE"] == second.subscription_id
            assert held["KG_DEVICE_UNLOCKED"] == "free"

    asyncio.run(scenario())


def test_create_from_the_form_with_taken_events_unavailable(service: SubscriptionService) -> None:
    taken = service.create("https://hooks.example.com/old", ["KG_DEVICE_ENROLLED"])

    async def scenario() -> None:
        app = KnoxhookApp(service)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("n")
            await pilot.pause()
            form = app.screen
            assert isinstance(form, SubscriptionForm)
            picker = form.query_one("#picker", SelectionList)
            enrolled = picker.get_option_at_index(0)
            assert enrolled.disabled
            assert f"held by {taken.subscription_id}" in str(enrolled.prompt)
            assert not picker.get_option_at_index(1).disabled
            await pilot.press(*"https://h.example/new", "enter")
            # the cursor starts on the first free event (KG_DEVICE_RELOCK_TIMESTAMP_APPLIED)
            await pilot.press("space", "down", "space", "ctrl+s")
            await settle(app, pilot)
            assert not isinstance(app.screen, SubscriptionForm)
            assert app.last_error == ""
            subs = service.list()
            assert len(subs) == 2
            new = subs[1]
            assert new.url == "https://h.example/new"
            assert new.events == ("KG_DEVICE_RELOCK_TIMESTAMP_APPLIED", "KG_DEVICE_LOCKED")
            assert app.last_message == f"created {new.subscription_id}"
            assert [r[0] for r in table_rows(app, "subs")] == [
                taken.subscription_id,
                new.subscription_id,
            ]

    asyncio.run(scenario())


def test_edit_changes_url_and_events_on_the_server(service: SubscriptionService) -> None:
    sub = service.create("https://hooks.example.com/v1", ["KE_CAMPAIGN_DELETE"])

    async def scenario() -> None:
        app = KnoxhookApp(service)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("e", "ctrl+s")  # saved unchanged: nothing is sent
            await settle(app, pilot)
            assert app.last_message == "nothing changed"
            assert service.get(sub.subscription_id) == sub
            await pilot.press("e")
            await pilot.pause()
            form = app.screen
            assert isinstance(form, SubscriptionForm)
            assert form.query_one("#url", Input).value == "https://hooks.example.com/v1"
            picker = form.query_one("#picker", SelectionList)
            assert picker.selected == ["KE_CAMPAIGN_DELETE"]
            await pilot.press("ctrl+a", "ctrl+k", *"https://h.example/v2", "enter")
            await pilot.press("space", "ctrl+s")  # add the first event, KG_DEVICE_ENROLLED
            await settle(app, pilot)
            assert app.last_error == ""
            assert app.last_message == f"updated {sub.subscription_id}"
            now = service.get(sub.subscription_id)
            assert now.url == "https://h.example/v2"
            assert set(now.events) == {"KG_DEVICE_ENROLLED", "KE_CAMPAIGN_DELETE"}
            assert table_rows(app, "subs")[0][1] == "https://h.example/v2"

    asyncio.run(scenario())


def test_delete_asks_first_then_deletes_on_yes(service: SubscriptionService) -> None:
    keep = service.create("https://hooks.example.com/keep", ["KAI_APP_ANR_FC"])
    doomed = service.create("https://hooks.example.com/doomed", ["KAI_BATTERY_STATUS"])

    async def scenario() -> None:
        app = KnoxhookApp(service)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("down", "d")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            assert doomed.subscription_id in app.screen.question
            await pilot.press("n")
            await settle(app, pilot)
            assert app.last_message == "delete cancelled"
            assert len(service.list()) == 2
            await pilot.press("d")
            await pilot.pause()
            await pilot.press("y")
            await settle(app, pilot)
            assert app.last_message == f"deleted {doomed.subscription_id}"
            assert [s.subscription_id for s in service.list()] == [keep.subscription_id]
            assert [r[0] for r in table_rows(app, "subs")] == [keep.subscription_id]

    asyncio.run(scenario())


def test_refused_create_shows_the_servers_message_inline(
    service: SubscriptionService, other_client: SubscriptionService
) -> None:
    async def scenario() -> None:
        app = KnoxhookApp(service)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("n")
            await pilot.pause()
            # meanwhile someone else takes the event the form still shows as free
            rival = other_client.create("https://elsewhere.example.com/", ["KG_DEVICE_ENROLLED"])
            await pilot.press(*"https://h.example/late", "enter")
            await pilot.press("space", "ctrl+s")
            await settle(app, pilot)
            assert app.last_error == (
                "create failed: Knox refused the request (400 EVENT_ALREADY_SUBSCRIBED): "
                f"event KG_DEVICE_ENROLLED is already held by subscription {rival.subscription_id}"
            )
            assert app.is_running
            assert any("EVENT_ALREADY_SUBSCRIBED" in str(n.message) for n in app._notifications)
            # the view was stale: it is listed again, now showing the rival
            assert [r[0] for r in table_rows(app, "subs")] == [rival.subscription_id]
            assert app.last_error in str(app.query_one("#message").content)

    asyncio.run(scenario())


def test_events_view_enter_jumps_to_the_holder_or_starts_a_subscription_with_that_event(
    service: SubscriptionService,
) -> None:
    service.create("https://hooks.example.com/a", ["KE_CAMPAIGN_DELETE"])
    holder = service.create("https://hooks.example.com/b", ["KG_DEVICE_LOCKED"])

    async def scenario() -> None:
        app = KnoxhookApp(service)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            assert app.selected() is not None
            assert app.selected().subscription_id != holder.subscription_id  # type: ignore[union-attr]
            await pilot.press("2", "down", "down", "enter")  # row 3: KG_DEVICE_LOCKED, held
            await pilot.pause()
            assert app.query_one(TabbedContent).active == "subscriptions"
            assert app.selected().subscription_id == holder.subscription_id  # type: ignore[union-attr]
            await pilot.press("2", "up", "enter")  # row 2: KG_DEVICE_RELOCK..., free
            await pilot.pause()
            form = app.screen
            assert isinstance(form, SubscriptionForm)
            assert form.query_one("#picker", SelectionList).selected == [
                "KG_DEVICE_RELOCK_TIMESTAMP_APPLIED"
            ]
            await pilot.press("escape", "down", "down", "n")  # n on a free event: the same
            await pilot.pause()
            assert isinstance(app.screen, SubscriptionForm)
            assert app.screen.query_one("#picker", SelectionList).selected == ["KG_DEVICE_UNLOCKED"]

    asyncio.run(scenario())


def test_deleting_what_someone_else_deleted_says_not_found_and_relists(
    service: SubscriptionService, other_client: SubscriptionService
) -> None:
    gone = service.create("https://hooks.example.com/gone", ["KC_DEVICE_STATUS_CHANGE"])

    async def scenario() -> None:
        app = KnoxhookApp(service)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            other_client.delete(gone.subscription_id)
            await pilot.press("d", "y")
            await settle(app, pilot)
            assert app.last_error.startswith(f"delete {gone.subscription_id} failed: not found: ")
            assert "SUBSCRIPTION_NOT_FOUND" in app.last_error
            assert table_rows(app, "subs") == []
            assert app.is_running

    asyncio.run(scenario())

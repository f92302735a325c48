"""The app survives a failing backend: errors show inline, nothing crashes.

These use a backend that fails on purpose (a bug-like exception or a network error),
which the real emulator cannot be made to produce on demand; the happy paths and the
API refusals run against the real emulator in ``test_app_emulator.py``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from knoxhook.errors import TransportError
from knoxhook.subscriptions import Subscription
from knoxhook.tui.app import KnoxhookApp
from knoxhook.tui.screens import SubscriptionForm


class Broken:
    """Lists fail with ``error``; nothing else is reachable without a list."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def list(self) -> Sequence[Any]:
        self.calls += 1
        raise self.error

    def create(self, url: str, events: Sequence[str]) -> Any:
        raise self.error

    def update(self, subscription_id: str, *, url: Any = None, events: Any = None) -> Any:
        raise self.error

    def delete(self, subscription_id: str) -> None:
        raise self.error


async def settle(app: KnoxhookApp, pilot: Any) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


def test_a_bug_in_the_backend_is_shown_inline_and_the_app_keeps_running() -> None:
    async def scenario() -> None:
        backend = Broken(KeyError("boom"))
        app = KnoxhookApp(backend)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            assert app.last_error == "listing subscriptions failed: unexpected KeyError: 'boom'"
            assert app.is_running
            await pilot.press("r")
            await settle(app, pilot)
            assert backend.calls == 2
            assert app.is_running

    asyncio.run(scenario())


def test_network_error_message_and_hint_are_shown() -> None:
    async def scenario() -> None:
        error = TransportError("cannot connect to 127.0.0.1:9", hint="is the server running?")
        app = KnoxhookApp(Broken(error))
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            assert app.last_error == (
                "listing subscriptions failed: cannot connect to 127.0.0.1:9 "
                "(is the server running?)"
            )
            assert any("cannot connect" in str(n.message) for n in app._notifications)

    asyncio.run(scenario())


def test_edit_and_delete_without_a_subscription_say_so() -> None:
    async def scenario() -> None:
        app = KnoxhookApp(Broken(TransportError("down")))
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            for key in ("e", "d"):
                await pilot.press(key)
                await pilot.pause()
                assert app.last_error == "no subscription selected (press n to create one)"
                assert not isinstance(app.screen, SubscriptionForm)

    asyncio.run(scenario())


def test_form_refuses_a_bad_url_and_no_events_before_any_request() -> None:
    async def scenario() -> None:
        backend = Broken(TransportError("down"))
        app = KnoxhookApp(backend)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            await pilot.press("n")
            await pilot.pause()
            form = app.screen
            assert isinstance(form, SubscriptionForm)
            await pilot.press(*"h.example", "ctrl+s")
            await pilot.pause()
            assert "the callback URL must be an absolute http(s) URL, got 'h.example'" in str(
                form.query_one("#form-error").content
            )
            form.query_one("#url").value = "https://hooks.example.com/k"  # type: ignore[attr-defined]
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert str(form.query_one("#form-error").content) == "pick at least one event"
            # main-screen keys are inert while the form is open: no second form, no quit
            await pilot.press("q")
            await pilot.pause()
            assert app.is_running
            assert app.screen is form
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, SubscriptionForm)

    asyncio.run(scenario())


@pytest.mark.parametrize("via_env", [True, False])
def test_no_color_turns_the_screen_monochrome(
    via_env: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.filter import Monochrome

    if via_env:
        monkeypatch.setenv("NO_COLOR", "1")
    app = KnoxhookApp(Broken(TransportError("down")), no_color=not via_env)
    assert app.no_color
    assert sum(isinstance(f, Monochrome) for f in app.get_line_filters()) == 1
    plain = KnoxhookApp(Broken(TransportError("down")))
    if not via_env:
        assert not plain.no_color


def Sub(subscription_id: str) -> Subscription:
    return Subscription(subscription_id, f"https://h.example.com/{subscription_id}", ("KG_A",))


class Slow(Broken):
    """The first list blocks until released and answers the OLD list; later ones the new."""

    def __init__(self) -> None:
        super().__init__(TransportError("unused"))
        self.release = threading.Event()

    def list(self) -> Sequence[Any]:
        self.calls += 1
        if self.calls == 1:
            assert self.release.wait(10)
            return [Sub("old")]
        return [Sub("new")]


def test_two_quick_refreshes_cannot_finish_out_of_order() -> None:
    from tests.tui.conftest import table_rows

    async def scenario() -> None:
        backend = Slow()
        app = KnoxhookApp(backend)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert backend.calls == 1  # the first listing hangs
            await pilot.press("r")  # a second one: the first is cancelled
            for _ in range(50):
                if table_rows(app, "subs"):
                    break
                await pilot.pause(0.05)
            assert [row[0] for row in table_rows(app, "subs")] == ["new"]
            backend.release.set()  # the old answer arrives last...
            await asyncio.sleep(0.2)
            await settle(app, pilot)
            assert [row[0] for row in table_rows(app, "subs")] == ["new"]  # ...and is dropped
            assert app.last_message == "1 subscription"

    asyncio.run(scenario())

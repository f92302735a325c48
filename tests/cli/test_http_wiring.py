"""One HTTP wiring for every command: --debug traces token, API and emulator requests."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle
    from tests.cli.conftest import Cli


def test_debug_traces_trigger_like_every_other_request(knox: EmulatorHandle, cli: Cli) -> None:
    r = cli("--debug", "trigger", "KG_DEVICE_LOCKED", "--emulator", knox.base_url)
    assert r.code == 6  # nothing subscribed to it: the emulator says so
    lines = r.err.splitlines()
    assert f"> POST {knox.base_url}/_emulator/events" in lines
    assert "> user-agent: knoxhook/0.1.0" in lines
    assert '> {"event": "KG_DEVICE_LOCKED"}' in lines
    assert "< 404 Not Found" in lines
    assert lines[-2].startswith("Error: ")


def test_debug_traces_the_token_fetch_and_the_api_call_with_secrets_redacted(
    knox: EmulatorHandle, cli: Cli
) -> None:
    r = cli("--debug", "subscriptions", "list", "--json")
    assert r.code == 0
    assert r.json() == []
    lines = r.err.splitlines()
    token_post = f"> POST {knox.base_url}/ams/v1/oauth2/token"
    api_get = f"> GET {knox.base_url}/kwn/v1/subscriptions"
    assert lines.index(token_post) < lines.index(api_get)
    assert lines.count("> user-agent: knoxhook/0.1.0") == 2
    assert "> authorization: Bearer ***" in lines
    assert knox.client_secret not in r.err
    assert any("client_secret=***" in line for line in lines)

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


def test_debug_never_shows_the_password_of_a_callback_url(knox: EmulatorHandle) -> None:
    """Issue 9, defect 9 (trace side), through a real process: the request body's url,
    the response's url and callbackUrl, every line of the trace."""
    import json

    from tests.cli.knoxproc import knoxhook

    env = {
        "KNOXHOOK_BASE_URL": knox.base_url,
        "KNOXHOOK_CLIENT_ID": knox.client_id,
        "KNOXHOOK_CLIENT_SECRET": knox.client_secret,
    }
    url = "http://hook-user:hunter2-pass@127.0.0.1:9/knox"
    made = knoxhook(
        "--debug", "subscribe", "--url", url, "--event", "KDMS_DEVICE_UPLOAD", "--json",
        env=env, timeout=60,
    )  # fmt: skip
    assert made.code == 0, made.err
    listed = knoxhook("--debug", "subscriptions", "list", "-o", "json", env=env, timeout=60)
    assert listed.code == 0, listed.err
    for run in (made, listed):  # the trace lines (the display side is cli/subscriptions')
        trace = "\n".join(line for line in run.err.splitlines() if line[:2] in ("> ", "< "))
        assert "hunter2-pass" not in trace
        assert "hook-user:***@127.0.0.1:9/knox" in trace
    assert any(
        line.startswith('> {"url": "http://hook-user:***@') for line in made.err.splitlines()
    )
    assert json.loads(made.out)["url"] == url  # the data itself: the raw value the API returned


def test_a_failing_get_never_says_it_may_have_taken_effect(knox: EmulatorHandle) -> None:
    """Issue 9, defect 11: only a request that changes something can be ambiguous."""
    from tests.cli.knoxproc import knoxhook

    env = {
        "KNOXHOOK_BASE_URL": knox.base_url,
        "KNOXHOOK_CLIENT_ID": knox.client_id,
        "KNOXHOOK_CLIENT_SECRET": knox.client_secret,
    }
    knox.fault(path="/kwn/v1/subscriptions", method="GET", status=503, count=4)
    run = knoxhook("subscriptions", "list", env=env, timeout=60)
    assert run.code == 7, run.err
    assert run.err.splitlines()[0] == (
        f"Error: GET {knox.base_url}/kwn/v1/subscriptions failed with HTTP 503 INJECTED_FAULT "
        "after 4 attempt(s): injected by a fault"
    )
    assert "may or may not" not in run.err

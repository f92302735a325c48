"""``knoxhook emulator fault|cert|deliveries|reset`` against a running emulator (issue 9.6):
exit codes, messages, and what the emulator then does."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx2
import pytest

from knoxhook.emulator import CONTROL_TOKEN_ENV
from knoxhook.emulator.testing import EmulatorHandle, running_emulator
from tests.cli.conftest import Cli

SUBS = "/kwn/v1/subscriptions"


def _get(emu: EmulatorHandle, path: str) -> httpx2.Response:
    return httpx2.get(emu.base_url + path, headers={"Authorization": f"Bearer {emu.token()}"})


def test_fault_add_list_clear(cli: Cli, emulator: EmulatorHandle) -> None:
    at = ("--emulator", emulator.base_url)
    added = cli("emulator", "fault", "add", "--path", SUBS, "--status", "503", "--count", "2",
                "--method", "get", *at, "--json")  # fmt: skip
    assert added.code == 0, added.err
    assert added.json() == [
        {"path": SUBS, "method": "GET", "count": 2, "status": 503, "retry_after": None,
         "delay": 0.0, "drop": False, "after": False}
    ]  # fmt: skip
    listed = cli("emulator", "fault", "list", *at, "--json")
    assert listed.json() == added.json()
    assert [_get(emulator, SUBS).status_code for _ in range(3)] == [503, 503, 200]
    assert cli("emulator", "fault", "list", *at, "--json").json() == []
    cli("emulator", "fault", "add", "--path", "/kwn/*", "--drop", *at)
    cleared = cli("emulator", "fault", "clear", *at)
    assert (cleared.code, cleared.err.strip()) == (0, "no faults pending")
    assert emulator.emulator.faults.pending() == []


def test_fault_table_and_env_url(
    cli: Cli, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNOXHOOK_EMULATOR_URL", emulator.base_url)
    result = cli("emulator", "fault", "add", "--path", "/ams/v1/oauth2/token", "--delay", "0.5")
    assert result.code == 0
    assert "/ams/v1/oauth2/token" in result.out
    assert "0.5" in result.out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--path", "/x"], "a fault needs 'status', 'drop' or 'delay'"),
        (["--path", "x", "--status", "503"], "'path' must match pattern '^/'"),
        (["--path", "/x", "--status", "418"], "'status' must be 400, 401, 403"),
        (["--path", "/x", "--status", "503", "--drop"], "exclude each other"),
        (["--path", "/x", "--delay", "61"], "'delay' must be less than or equal to 60"),
        (["--path", "/x", "--status", "503", "--count", "0"], "from 1 to 1000000"),
    ],
)
def test_a_bad_fault_is_a_usage_error_naming_the_problem(
    cli: Cli, emulator: EmulatorHandle, args: list[str], needle: str
) -> None:
    result = cli("emulator", "fault", "add", *args, "--emulator", emulator.base_url)
    assert result.code == 2
    assert needle in result.err
    assert "bad fault:" in result.err
    assert emulator.emulator.faults.pending() == []


def test_a_retry_after_longer_than_the_client_waits_reaches_its_too_long_path(
    cli: Cli, knox: EmulatorHandle
) -> None:
    """The emulator's Retry-After cap allows what the client's 'too long to wait' path
    needs (it waits at most 60 s): the command fails at once and says how long."""
    at = ("--emulator", knox.base_url)
    added = cli("emulator", "fault", "add", "--path", SUBS, "--status", "429",
                "--retry-after", "120", *at)  # fmt: skip
    assert added.code == 0, added.err
    listed = cli("subscriptions", "list", "--json")
    assert listed.code == 7
    assert "Knox asked to wait 120 s" in listed.err
    assert knox.stats()["requests"].get(f"GET {SUBS}") == 1  # not retried


def test_cert_expire_rotate_reset(cli: Cli, emulator: EmulatorHandle) -> None:
    at = ("--emulator", emulator.base_url, "--json")
    before = emulator.controls.certificate()
    expired = cli("emulator", "cert", "expire", *at).json()
    now = dt.datetime.now(dt.UTC)
    assert dt.datetime.fromisoformat(expired["notAfter"]) < now
    assert dt.datetime.fromisoformat(before["notAfter"]) > now
    assert expired["publicKeySha256"] == before["publicKeySha256"]
    same = cli("emulator", "cert", "rotate", *at).json()
    assert same["serial"] != expired["serial"]
    assert same["publicKeySha256"] == before["publicKeySha256"]
    new = cli("emulator", "cert", "rotate", "--new-key", *at).json()
    assert new["publicKeySha256"] != before["publicKeySha256"]
    reset = cli("emulator", "cert", "reset", *at).json()
    assert reset["publicKeySha256"] == new["publicKeySha256"]
    assert emulator.controls.certificate() == reset


def test_deliveries_and_reset(cli: Cli, emulator: EmulatorHandle) -> None:
    at = ("--emulator", emulator.base_url)
    response = httpx2.post(
        emulator.base_url + SUBS,
        json={"url": "http://127.0.0.1:1/cb", "events": ["KG_DEVICE_LOCKED"]},
        headers={"Authorization": f"Bearer {emulator.token()}"},
    )
    assert response.status_code == 201
    record = emulator.trigger("KG_DEVICE_LOCKED")
    listed = cli("emulator", "deliveries", *at, "--json")
    assert listed.code == 0
    assert listed.json() == [record]
    table = cli("emulator", "deliveries", *at)
    assert record["id"] in table.out
    assert "failed" in table.out
    reset = cli("emulator", "reset", *at)
    assert reset.code == 0
    assert f"the emulator at {emulator.base_url} is reset" in reset.err
    assert cli("emulator", "deliveries", *at, "--json").json() == []
    assert emulator.emulator.store.all() == []


def test_the_controls_send_the_control_token(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    with running_emulator(control_token="ctl-token-for-the-test") as emu:
        at = ("--emulator", emu.base_url)
        monkeypatch.delenv(CONTROL_TOKEN_ENV, raising=False)
        refused = cli("emulator", "reset", *at)
        assert refused.code == 4
        assert f"set {CONTROL_TOKEN_ENV}" in refused.err
        monkeypatch.setenv(CONTROL_TOKEN_ENV, "ctl-token-for-the-test")
        assert cli("emulator", "fault", "list", *at, "--json").json() == []


@pytest.mark.parametrize(
    "args",
    [
        ["fault", "list"],
        ["fault", "clear"],
        ["cert", "expire"],
        ["deliveries"],
        ["reset"],
    ],
)
def test_an_unreachable_emulator_is_exit_7(cli: Cli, args: list[str]) -> None:
    result = cli("--json", "emulator", *args, "--emulator", "http://127.0.0.1:1")
    assert result.code == 7
    error: dict[str, Any] = result.error()
    assert "cannot reach the emulator at http://127.0.0.1:1" in error["message"]


def test_the_real_knox_cloud_is_never_sent_control_requests(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KNOXHOOK_EMULATOR_URL", raising=False)
    monkeypatch.setenv("KNOXHOOK_BASE_URL", "https://api.samsungknox.com")
    result = cli("emulator", "reset")
    assert result.code == 2
    assert "is the real Knox cloud" in result.err


@pytest.mark.parametrize(
    "args",
    [
        ["emulator", "fault", "add", "--help"],
        ["emulator", "cert", "rotate", "--help"],
        ["emulator", "deliveries", "--help"],
        ["emulator", "reset", "--help"],
    ],
)
def test_help_has_an_example(cli: Cli, args: list[str]) -> None:
    result = cli(*args)
    assert result.code == 0
    assert "knoxhook emulator " + args[1] in result.out

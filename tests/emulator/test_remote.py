"""The emulator off loopback (issue 14.4): --allow-remote, the control token, capped
bodies, deliveries to loopback only (checked on the resolved address), private files.

No test listens off loopback (tests use the network on 127.0.0.1 only): the remote
start-up is checked through the function that decides it, and the token through an
emulator on loopback told to require one.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from knoxhook.cli import emulator as cli_emulator
from knoxhook.emulator import CONTROL_TOKEN_ENV, CONTROL_TOKEN_HEADER
from knoxhook.emulator.egress import is_loopback_address
from knoxhook.emulator.httputil import BadRequest, read_body
from knoxhook.emulator.testing import running_emulator
from knoxhook.errors import AuthenticationError, UsageError
from tests.cli.conftest import run
from tests.emulator.conftest import Api, Recorder

TOKEN = "test-control-token-0123456789"


# --- binding and the control token ---------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::"])
def test_a_host_off_loopback_needs_allow_remote(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "emulator", "run", "--port", "0", "--host", host)
    assert code == 2
    assert out == ""
    assert f"--host {host} is not a loopback address" in err
    assert "--allow-remote" in err


def test_off_loopback_a_fresh_control_token_is_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONTROL_TOKEN_ENV, raising=False)
    token, line = cli_emulator._control_token("0.0.0.0", allow_remote=True)
    again, _ = cli_emulator._control_token("0.0.0.0", allow_remote=True)
    assert token is not None
    assert len(token) >= 32
    assert again != token
    assert line is not None
    assert token in line
    assert CONTROL_TOKEN_HEADER in line
    assert CONTROL_TOKEN_ENV in line
    with pytest.raises(UsageError):
        cli_emulator._control_token("10.0.0.1", allow_remote=False)


def test_on_loopback_no_token_is_needed_unless_one_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONTROL_TOKEN_ENV, raising=False)
    assert cli_emulator._control_token("127.0.0.1", allow_remote=False) == (None, None)
    monkeypatch.setenv(CONTROL_TOKEN_ENV, TOKEN)
    token, line = cli_emulator._control_token("127.0.0.1", allow_remote=False)
    assert token == TOKEN
    assert line is not None
    assert TOKEN not in line  # a token the user chose is not echoed


@pytest.fixture
def guarded() -> Iterator[Any]:
    with running_emulator(control_token=TOKEN) as emu:
        yield emu


def test_control_endpoints_need_the_token(guarded: Any) -> None:
    base = guarded.base_url + "/_emulator"
    for headers in ({}, {CONTROL_TOKEN_HEADER: "wrong"}, {CONTROL_TOKEN_HEADER: TOKEN[:-1]}):
        answer = httpx2.get(base + "/stats", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["message"] == "UNAUTHORIZED"
        assert CONTROL_TOKEN_HEADER in answer.json()["data"]
        refused = httpx2.post(base + "/faults", json={"path": "/x", "status": 500}, headers=headers)
        assert refused.status_code == 401
    assert guarded.emulator.faults.pending() == []  # nothing was injected
    assert httpx2.get(base + "/stats", headers={CONTROL_TOKEN_HEADER: TOKEN}).status_code == 200
    assert guarded.stats()["requests_total"] == 0  # the handle sends the token
    # the Knox API itself is unchanged: a Bearer token, no control token
    listed = httpx2.get(
        guarded.base_url + "/kwn/v1/subscriptions",
        headers={"Authorization": f"Bearer {guarded.token()}"},
    )
    assert listed.status_code == 200


def test_trigger_reads_the_control_token_from_the_environment(
    guarded: Any,
    recorder: Recorder,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Api(guarded).created(recorder.url, ["KG_DEVICE_LOCKED"])
    args = ("trigger", "KG_DEVICE_LOCKED", "--emulator", guarded.base_url)
    monkeypatch.delenv(CONTROL_TOKEN_ENV, raising=False)
    code, _, err = run(capsys, *args)
    assert code == AuthenticationError.exit_code
    assert f"set {CONTROL_TOKEN_ENV}" in err
    assert recorder.calls == []
    monkeypatch.setenv(CONTROL_TOKEN_ENV, TOKEN)
    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert "delivered" in out
    assert len(recorder.calls) == 1


# --- bodies are capped while streaming --------------------------------------------------------
class _Streaming:
    """A request whose body never ends; counts the chunks read."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.read = 0

    async def stream(self) -> AsyncIterator[bytes]:
        while True:
            self.read += 1
            yield b"x" * 100


def test_the_body_limit_is_checked_while_streaming() -> None:
    request = _Streaming()
    with pytest.raises(BadRequest) as refused:
        asyncio.run(read_body(request, 1000))  # type: ignore[arg-type]
    assert refused.value.status == 413
    assert request.read == 11  # stopped at the first chunk past the limit


def test_a_chunked_body_over_the_limit_is_413(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(50):  # 5 MB, no Content-Length
            yield b" " * 100_000

    answer = api.http.post(
        "/kwn/v1/subscriptions", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["message"] == "PAYLOAD_TOO_LARGE"
    assert api.http.get("/kwn/v1/subscriptions").json() == []


# --- deliveries go to loopback addresses only ----------------------------------------------------
@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("169.254.169.254", False),
        ("localhost", False),  # a name, not an address: resolve it first
    ],
)
def test_loopback_addresses(address: str, loopback: bool) -> None:
    assert is_loopback_address(address) is loopback


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Names this test decides the address of (everything else resolves as usual)."""
    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host  # anyio sends bytes
        if name in names:
            return real(names[name], port, *args, **kw)
        return real(host, port, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def test_a_callback_to_a_remote_address_is_refused_before_any_connection(api: Api) -> None:
    api.created("http://10.255.255.1:9/cb", ["KG_DEVICE_LOCKED"])
    record = api.emu.trigger("KG_DEVICE_LOCKED")
    assert record["status"] == "failed"
    assert record["attempts"] == 0  # nothing was sent, and no retry
    assert "delivers only to loopback addresses" in record["error"]
    assert "10.255.255.1" in record["error"]
    assert "--allow-remote-delivery" in record["error"]
    assert api.emu.stats()["delivery_attempts"] == 0


def test_the_check_is_on_the_resolved_address_not_the_name(
    api: Api, recorder: Recorder, resolver: dict[str, str]
) -> None:
    port = recorder.base_url.rsplit(":", 1)[1]
    resolver["localhost"] = "10.255.255.1"  # a name that looks safe, resolving elsewhere
    resolver["receiver.test"] = "127.0.0.1"  # a name that looks remote, resolving to loopback
    api.created(f"http://localhost:{port}/callback", ["KG_DEVICE_LOCKED"])
    api.created(f"http://receiver.test:{port}/callback", ["KG_DEVICE_UNLOCKED"])
    refused = api.emu.trigger("KG_DEVICE_LOCKED")
    delivered = api.emu.trigger("KG_DEVICE_UNLOCKED")
    assert refused["status"] == "failed"
    assert "'localhost' is 10.255.255.1" in refused["error"]
    assert delivered["status"] == "delivered", delivered["error"]
    ((headers, _body),) = recorder.calls
    assert headers["host"] == f"receiver.test:{port}"  # the URL's host, sent to its address


def test_allow_remote_delivery_sends_where_the_subscription_says(
    recorder: Recorder, resolver: dict[str, str]
) -> None:
    port = recorder.base_url.rsplit(":", 1)[1]
    resolver["receiver.test"] = "127.0.0.1"
    with running_emulator(allow_remote_delivery=True) as emu:
        api = Api(emu)
        api.created(f"http://receiver.test:{port}/callback", ["KG_DEVICE_LOCKED"])
        assert emu.trigger("KG_DEVICE_LOCKED")["status"] == "delivered"
        api.http.close()
    assert recorder.calls[0][0]["host"] == f"receiver.test:{port}"


# --- the data dir is private ----------------------------------------------------------------------
def test_the_data_dir_and_its_files_are_private_under_umask_0(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "state"
    old = os.umask(0)
    try:
        with running_emulator(data_dir=target) as emu:
            api = Api(emu)
            api.created("http://127.0.0.1:9/cb", ["KG_DEVICE_LOCKED"])
            api.http.close()
    finally:
        os.umask(old)
    for directory in (target, target.parent, target.parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    files = sorted(p.name for p in target.iterdir())
    assert {"emulator.db", "signing-key.pem", "certificate.pem"} <= set(files)
    for name in files:
        assert stat.S_IMODE((target / name).stat().st_mode) == 0o600, name

"""``--timeout SECONDS`` (issue 9 item 8): flag > KNOXHOOK_TIMEOUT > the profile's
``timeout`` > the command's default, used by every request; a bad value is exit 2."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from knoxhook import config
from knoxhook.cli import clients, context
from tests.cli.conftest import Cli
from tests.cli.knoxproc import knoxhook


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server on 127.0.0.1 that accepts connections, reads, and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            held.append(conn)  # kept open, never answered

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()


def test_a_silent_server_with_timeout_half_a_second_is_exit_7_in_one_line(
    silent_server: str,
) -> None:
    env = {
        "KNOXHOOK_BASE_URL": silent_server,
        "KNOXHOOK_CLIENT_ID": "c",
        "KNOXHOOK_CLIENT_SECRET": "s3cr3t-value",
    }
    run = knoxhook("--timeout", "0.5", "subscriptions", "list", env=env, timeout=30)
    assert run.code == 7
    lines = run.err.splitlines()
    assert lines[0].startswith(f"Error: could not get a token from {silent_server}")
    assert lines[0].endswith("no answer: timed out after 0.5 s")
    assert lines[1].startswith("Hint:")
    assert "--timeout SECONDS" in lines[1]
    assert len(lines) == 2
    # 4 attempts of 0.5 s and three backoffs (at most 0.5 + 1 + 2 s), plus start-up
    assert run.seconds < 12, run.seconds
    assert "s3cr3t-value" not in run.err


def test_the_api_request_itself_times_out_too(
    silent_server: str, knox_token_cached: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = knoxhook(
        "--timeout", "0.5", "api", "GET", "/kwn/v1/subscriptions", timeout=30
    )  # fmt: skip
    assert run.code == 7
    assert run.err.splitlines()[0] == (
        f"Error: GET {silent_server}/kwn/v1/subscriptions got no answer: "
        "timed out after 0.5 s (4 of 4 attempts)"
    )
    assert "may or may not" not in run.err  # a GET changes nothing
    assert run.seconds < 12, run.seconds


@pytest.fixture
def knox_token_cached(silent_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A profile on the silent server with a fresh token in the cache: the API request
    is the first thing sent."""
    import time

    from knoxhook.tokencache import Token, write_cached

    monkeypatch.setenv("KNOXHOOK_BASE_URL", silent_server)
    monkeypatch.setenv("KNOXHOOK_CLIENT_ID", "c")
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", "s3cr3t-value")
    now = time.time()
    write_cached(config.load_settings(), Token("tok-abc", now + 600, now))


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "abc", ""])
def test_a_timeout_that_is_not_a_positive_number_is_exit_2(cli: Cli, value: str) -> None:
    r = cli("--timeout", value, "auth", "status")
    assert r.code == 2
    assert f"Error: --timeout {value!r} is not a positive number of seconds" in r.err


def test_a_bad_knoxhook_timeout_is_exit_2_naming_the_variable(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNOXHOOK_TIMEOUT", "soon")
    r = cli("subscriptions", "list")
    assert r.code == 2
    assert "Error: KNOXHOOK_TIMEOUT 'soon' is not a positive number of seconds" in r.err


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("timeout = 0", "is not a positive number of seconds"),
        ('timeout = "10"', "must be a number, not the string '10'"),
    ],
)
def test_a_bad_profile_timeout_is_exit_2_naming_the_profile(
    cli: Cli, isolated_env: Path, line: str, message: str
) -> None:
    cdir = isolated_env / "config"
    cdir.mkdir(parents=True)
    (cdir / "config.toml").write_text(f'[profiles.p]\nclient_id = "c"\n{line}\n')
    r = cli("--profile", "p", "subscriptions", "list")
    assert r.code == 2
    assert "timeout in profile 'p'" in r.err
    assert message in r.err


def test_precedence_flag_over_env_over_profile_over_the_commands_default(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cdir = isolated_env / "config"
    cdir.mkdir(parents=True)
    (cdir / "config.toml").write_text('default_profile = "p"\n[profiles.p]\ntimeout = 7\n')
    invocation = context.Invocation(context.Environment.from_process())

    def timeout(*, resolved: bool, default: float | None = None) -> float:
        with context.use(invocation):
            chosen = clients.settings() if resolved else None
            return clients.http_options(chosen, timeout=default).timeout

    assert timeout(resolved=True) == 7.0  # the profile
    assert timeout(resolved=False) == 30.0  # no settings: the default
    assert timeout(resolved=False, default=120.0) == 120.0  # the command's own default
    monkeypatch.setenv("KNOXHOOK_TIMEOUT", "4.5")
    assert timeout(resolved=True) == 4.5
    assert timeout(resolved=False, default=120.0) == 4.5
    invocation.timeout = 2.0  # --timeout 2
    assert timeout(resolved=True) == 2.0
    assert timeout(resolved=False, default=120.0) == 2.0
    assert config.load_settings(timeout=2.0).sources["timeout"] == "flag"  # type: ignore[index]

"""14.1: no client secret, token or certificate over plain http:// to a remote host.

The audit: ``auth login --base-url http://knox.example.com`` exited 0 with no warning,
having sent ``client_secret=...`` in clear text (RFC 6749 §2.3.1 and §3.2 require TLS).
Here the "network" is ``wiretap`` (the HTTP proxy every such request crosses): refused
means it saw nothing; allowed (``--allow-http``, ``KNOXHOOK_ALLOW_HTTP=1``, the profile's
``allow_http = true``) means it did, and stderr warned. Loopback needs no flag.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from knoxhook import config, validation
from knoxhook.errors import UsageError
from tests.cli.conftest import Cli
from tests.security.conftest import Tap

SECRET = "s3cret-never-in-clear"
REMOTE = "http://knox.example.com"
LOGIN = ("auth", "login", "--client-id", "cid", "--client-secret-stdin", "--insecure-storage")


def write_profile(isolated_env: Path, body: str) -> None:
    directory = isolated_env / "config"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.toml").write_text(f"[profiles.default]\n{body}\n")


@pytest.mark.parametrize(
    ("where", "args", "env", "profile"),
    [
        ("--base-url", ("--base-url", REMOTE), {}, ""),
        ("--token-url", ("--token-url", REMOTE + "/ams/v1/oauth2/token"), {}, ""),
        ("KNOXHOOK_BASE_URL", (), {"KNOXHOOK_BASE_URL": REMOTE}, ""),
        ("KNOXHOOK_TOKEN_URL", (), {"KNOXHOOK_TOKEN_URL": REMOTE + "/token"}, ""),
        ("base_url in profile 'default' (config.toml)", (), {}, f'base_url = "{REMOTE}"'),
    ],
)
def test_login_over_plain_http_to_a_remote_host_is_refused_before_sending(
    cli: Cli,
    wiretap: Tap,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    args: tuple[str, ...],
    env: dict[str, str],
    profile: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if profile:
        write_profile(isolated_env, profile)
    r = cli(*LOGIN, *args, stdin=SECRET.encode() + b"\n")
    assert r.code == 2, r.err
    assert f"Error: {where}: refusing plain http:// to knox.example.com" in r.err
    assert "--allow-http" in r.err  # the hint says how to mean it
    assert SECRET not in r.out + r.err
    assert wiretap.requests == []  # nothing crossed the network
    assert not (isolated_env / "config" / "secrets").exists()


@pytest.mark.parametrize(
    "command",
    [
        ("subscriptions", "list"),
        ("cert", "fetch"),
        ("auth", "token"),
        ("verify", "--body", "body.json", "--signature", "a.b.c"),  # downloads the cert
    ],
)
def test_every_command_that_reaches_knox_refuses_plain_http(
    cli: Cli,
    wiretap: Tap,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: tuple[str, ...],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "body.json").write_text("{}")
    monkeypatch.setenv("KNOXHOOK_BASE_URL", REMOTE)
    monkeypatch.setenv("KNOXHOOK_CLIENT_ID", "cid")
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", SECRET)
    r = cli(*command)
    assert r.code == 2, r.err
    assert "KNOXHOOK_BASE_URL: refusing plain http:// to knox.example.com" in r.err
    assert wiretap.requests == []


def test_allow_http_flag_lets_it_through_with_a_warning(
    cli: Cli, wiretap: Tap, isolated_env: Path
) -> None:
    r = cli("--allow-http", *LOGIN, "--base-url", REMOTE, stdin=SECRET.encode() + b"\n")
    assert r.code == 0, r.err
    assert (
        "warning: plain http:// to knox.example.com: the client secret, tokens and the "
        "validation certificate cross the network unencrypted (--allow-http allows it)"
    ) in r.err
    assert r.err.count("warning: plain http://") == 1  # once per host, not per URL
    [(method, target, body)] = wiretap.requests
    assert (method, target) == ("POST", REMOTE + "/ams/v1/oauth2/token")
    assert SECRET.encode() in body  # what --allow-http means: it crossed in clear
    # allowing it is never saved: the next use must say so again
    assert "allow_http" not in (isolated_env / "config" / "config.toml").read_text()
    again = cli("auth", "token")
    assert again.code == 2
    assert "base_url in profile 'default' (config.toml): refusing plain http://" in again.err


@pytest.mark.parametrize(
    ("env", "profile", "source"),
    [
        ({"KNOXHOOK_ALLOW_HTTP": "1"}, "", "KNOXHOOK_ALLOW_HTTP"),
        ({"KNOXHOOK_ALLOW_HTTP": "yes"}, "", "KNOXHOOK_ALLOW_HTTP"),
        ({}, "allow_http = true", "allow_http in profile 'default' (config.toml)"),
    ],
)
def test_env_or_profile_allow_http_warns_on_every_use(
    cli: Cli,
    wiretap: Tap,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    profile: str,
    source: str,
) -> None:
    write_profile(isolated_env, f'base_url = "{REMOTE}"\nclient_id = "cid"\n{profile}')
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", SECRET)
    for _ in range(2):
        r = cli("auth", "token")
        assert r.code == 0, r.err
        assert f"({source} allows it)" in r.err
    assert r.out == "tapped\n"
    assert len(wiretap.requests) == 1  # the second use read the cache, and still warned


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_garbled_allow_http_variable_is_a_usage_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("KNOXHOOK_ALLOW_HTTP", value)
    r = cli("auth", "status")
    assert r.code == 2
    assert f"Error: KNOXHOOK_ALLOW_HTTP={value!r} is not a yes/no value" in r.err


def test_a_quoted_allow_http_in_the_profile_is_a_usage_error(cli: Cli, isolated_env: Path) -> None:
    write_profile(isolated_env, 'allow_http = "true"')
    r = cli("auth", "status")
    assert r.code == 2
    assert "allow_http in profile 'default'" in r.err
    assert "must be true or false, not 'true'" in r.err


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:2", "http://127.9.9.9"],
)
def test_loopback_needs_no_flag_and_no_warning(url: str, caplog: pytest.LogCaptureFixture) -> None:
    settings = config.load_settings(overrides={"base_url": url})
    with caplog.at_level(logging.WARNING):
        assert validation.validate_knox_urls(settings) is settings
    assert caplog.records == []


def test_the_emulator_on_loopback_works_without_any_flag(cli: Cli, knox: object) -> None:
    r = cli("subscriptions", "list", "--json")
    assert r.code == 0, r.err
    assert r.json() == []
    assert "warning" not in r.err


def test_https_is_never_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    settings = config.load_settings(overrides={"base_url": "https://knox.example.com"})
    with caplog.at_level(logging.WARNING):
        validation.validate_knox_urls(settings)
    assert caplog.records == []


def test_the_library_download_path_refuses_too() -> None:
    """``certs.ensure_certificate`` (``verify``, ``listen``) with no client of its own."""
    from knoxhook import certs

    settings = config.load_settings(overrides={"base_url": REMOTE})
    with pytest.raises(UsageError, match="--base-url: refusing plain http://"):
        certs.ensure_certificate(settings)

"""The CLI with a legacy (Knox Guard) profile, end to end on the emulator: login with the
identifier on stdin, subscribe KG_DEVICE_LOCKED, list, trigger, listen verifies, delete;
the documented exit codes; and no secret in argv, output, traces, config or loose files."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from knoxhook import wire
from knoxhook.emulator import legacy
from tests.fakes import MemoryKeyring
from tests.legacy.conftest import ACCESS_TOKEN_REQUEST, IDENTIFIER, requests_to

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle
    from tests.cli.conftest import Cli, Result

REPO = Path(__file__).resolve().parents[2]
V01 = wire.KWN_LEGACY_PREFIX


def _login(
    cli: Cli,
    emu: EmulatorHandle,
    keys: Path,
    *extra: str,
    identifier: str = IDENTIFIER,
    debug: bool = False,
) -> Result:
    return cli(
        *(["--debug"] if debug else []), "auth", "login", "--keys", str(keys),
        "--base-url", emu.base_url, "--client-identifier-stdin", *extra,
        stdin=identifier.encode() + b"\n",
    )  # fmt: skip


def _secrets(keys: Path) -> list[str]:
    """The identifier, the private key as written, and PEM lines from its private part
    (its first lines hold the modulus, which the public key shares)."""
    document = json.loads(keys.read_text())
    lines = [ln for ln in document["Private"].splitlines() if ln and not ln.startswith("-----")]
    return [IDENTIFIER, document["Private"], *lines[-5:-1]]


def test_knox_guard_end_to_end_on_the_emulator(
    cli: Cli,
    legacy_emulator: EmulatorHandle,
    keys_file: Callable[..., Path],
    memory_keyring: MemoryKeyring,
    tmp_path: Path,
) -> None:
    from tests.cli.test_listen import Listener

    keys = keys_file()
    r = _login(cli, legacy_emulator, keys, "--json")
    assert r.code == 0, r.err
    status = r.json()
    assert (status["auth"], status["keys_source"], status["kwn_prefix"]) == (
        "legacy",
        "keyring",
        V01,
    )
    assert "with legacy Knox Cloud Authentication" in r.err

    env = {
        "KNOXHOOK_AUTH": "legacy",
        "KNOXHOOK_BASE_URL": legacy_emulator.base_url,
        "KNOXHOOK_KEYS_FILE": str(keys),
        "KNOXHOOK_CLIENT_IDENTIFIER": IDENTIFIER,
        "PYTHONPATH": str(REPO),
    }
    rx = Listener("--nonce-db", str(tmp_path / "n.db"), env=env)  # fetches the cert (legacy)
    try:
        r = cli("subscribe", "--url", rx.url, "--event", "KG_DEVICE_LOCKED", "--json")
        assert r.code == 0, r.err
        sub_id = r.json()["subscriptionId"]
        r = cli("subscriptions", "list", "--json")
        assert (r.code, [s["subscriptionId"] for s in r.json()]) == (0, [sub_id])
        r = cli("trigger", "KG_DEVICE_LOCKED", "--emulator", legacy_emulator.base_url, "--json")
        assert (r.code, r.json()["status"]) == (0, "delivered"), r.err
    finally:
        assert rx.stop() == 0
    verdicts = [json.loads(line) for line in rx.stdout_lines()]
    assert [(v["verdict"], v["event"]) for v in verdicts] == [("accepted", "KG_DEVICE_LOCKED")], (
        rx.err
    )
    r = cli("subscriptions", "delete", sub_id, "--yes")
    assert r.code == 0, r.err
    assert cli("subscriptions", "list", "--json").json() == []

    stats = legacy_emulator.stats()
    assert requests_to(legacy_emulator, ACCESS_TOKEN_REQUEST) == 2  # login, and the listener
    kwn = [key for key in stats["requests"] if "/subscriptions" in key or "Certificate" in key]
    assert kwn
    assert all(V01 in key for key in kwn), kwn  # the v0.1 path by default [assume]
    assert stats["unauthorized"] == 0


def test_auth_token_prints_the_x_knox_apitoken_and_status_its_expiry(
    cli: Cli,
    legacy_emulator: EmulatorHandle,
    keys_file: Callable[..., Path],
    memory_keyring: MemoryKeyring,
) -> None:
    assert _login(cli, legacy_emulator, keys_file()).code == 0
    r = cli("auth", "token")
    token = r.out.strip()
    assert r.code == 0
    assert token.count(".") == 2
    import httpx2

    listing = httpx2.get(
        legacy_emulator.base_url + wire.subscriptions_path(V01), headers={wire.H_API_TOKEN: token}
    )
    assert listing.status_code == 200
    r = cli("auth", "status", "--json")
    data = r.json()
    assert r.code == 0
    assert data["auth"] == "legacy"
    assert data["token_cached"] is True
    assert 1700 < data["token_expires_in"] <= 1800
    assert token not in r.out
    r = cli("auth", "token", "--json")
    assert r.json()["header"] == "x-knox-apitoken"


def test_a_wrong_identifier_exits_4_and_saves_nothing(
    cli: Cli,
    legacy_emulator: EmulatorHandle,
    keys_file: Callable[..., Path],
    memory_keyring: MemoryKeyring,
    isolated_env: Path,
) -> None:
    r = _login(cli, legacy_emulator, keys_file(), identifier="not-the-identifier")
    assert r.code == 4, r.err
    assert "Knox refused the Client Identifier and keys (HTTP 401" in r.err
    assert "Nothing was saved" in r.err
    assert "not-the-identifier" not in r.out + r.err
    assert memory_keyring.store == {}
    assert not (isolated_env / "config" / "config.toml").exists()


def test_an_expired_token_mid_command_is_renewed_and_exits_0(
    cli: Cli,
    legacy_emulator: EmulatorHandle,
    keys_file: Callable[..., Path],
    memory_keyring: MemoryKeyring,
) -> None:
    assert _login(cli, legacy_emulator, keys_file()).code == 0
    legacy.authority_of(legacy_emulator.app).expire_tokens()
    r = cli("subscriptions", "list", "--json")
    assert (r.code, r.json()) == (0, []), r.err
    assert requests_to(legacy_emulator, ACCESS_TOKEN_REQUEST) == 2
    assert legacy.authority_of(legacy_emulator.app).counts["apitoken_refused"] == 1


def test_a_malformed_keys_json_exits_2_naming_the_field(
    cli: Cli,
    legacy_emulator: EmulatorHandle,
    keys_file: Callable[..., Path],
    memory_keyring: MemoryKeyring,
) -> None:
    r = _login(cli, legacy_emulator, keys_file(Private="-----BEGIN RSA PRIVATE KEY-----\nAAAA\n"))
    assert r.code == 2
    assert "field 'Private' is not an RSA private key" in r.err
    assert requests_to(legacy_emulator, ACCESS_TOKEN_REQUEST) == 0


def test_no_keyring_without_insecure_storage_exits_3_before_any_request(
    cli: Cli, legacy_emulator: EmulatorHandle, keys_file: Callable[..., Path]
) -> None:
    r = _login(cli, legacy_emulator, keys_file())
    assert r.code == 3
    assert "cannot store the keys and Client Identifier: no OS keyring is available" in r.err
    assert requests_to(legacy_emulator, ACCESS_TOKEN_REQUEST) == 0


def test_insecure_storage_then_logout_forgets_the_keys(
    cli: Cli, legacy_emulator: EmulatorHandle, keys_file: Callable[..., Path], isolated_env: Path
) -> None:
    r = _login(cli, legacy_emulator, keys_file(), "--insecure-storage", "--json")
    assert r.code == 0, r.err
    stored = Path(r.json()["keys_location"])
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert "stored unencrypted" in r.err
    config = (isolated_env / "config" / "config.toml").read_text()
    assert 'auth = "legacy"' in config
    assert IDENTIFIER not in config
    r = cli("auth", "logout", "--json")
    assert (r.code, r.json()["token_deleted"]) == (0, True)
    assert not stored.exists()
    r = cli("auth", "status")
    assert r.code == 3
    assert cli("subscriptions", "list").code == 3


def test_secrets_never_reach_output_debug_traces_config_or_loose_files(
    cli: Cli,
    legacy_emulator: EmulatorHandle,
    keys_file: Callable[..., Path],
    memory_keyring: MemoryKeyring,
    isolated_env: Path,
) -> None:
    keys = keys_file()
    r = _login(cli, legacy_emulator, keys, debug=True)
    assert r.code == 0, r.err
    seen = r.out + r.err
    assert "> POST " + legacy_emulator.base_url + wire.LEGACY_ACCESS_TOKEN_PATH in seen
    for args in (["subscriptions", "list"], ["auth", "status", "--json"]):
        legacy.authority_of(legacy_emulator.app).expire_tokens()  # renewals get traced too
        r = cli("--debug", *args)
        assert r.code == 0, r.err
        seen += r.out + r.err
    assert "x-knox-apitoken: ***" in seen
    jwts = [
        json.loads(p.read_text())["access_token"]
        for p in (isolated_env / "cache").rglob("legacy-*.json")
    ]
    (apitoken,) = jwts
    access = json.loads(base64.urlsafe_b64decode(apitoken.split(".")[1] + "==="))["accessToken"]
    secrets = [*_secrets(keys), apitoken, access]
    for secret in secrets:
        assert secret not in seen
    for path in isolated_env.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            if any(secret in text for secret in secrets):
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert all(s not in (isolated_env / "config" / "config.toml").read_text() for s in secrets)


def _child_env(emu: EmulatorHandle, keys: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "KNOXHOOK_AUTH": "legacy",
        "KNOXHOOK_BASE_URL": emu.base_url,
        "KNOXHOOK_KEYS_FILE": str(keys),
        "KNOXHOOK_CLIENT_IDENTIFIER": IDENTIFIER,
        "PYTHONPATH": str(REPO),
        **extra,
    }


def test_twelve_concurrent_commands_on_a_cold_cache_make_one_accesstoken_request(
    legacy_emulator: EmulatorHandle, keys_file: Callable[..., Path]
) -> None:
    keys = keys_file()
    argv = [sys.executable, "-m", "knoxhook", "subscriptions", "list", "--json"]
    env = _child_env(legacy_emulator, keys)
    procs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(12)
    ]
    deadline = time.monotonic() + 120
    for proc in procs:
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert (proc.returncode, json.loads(out)) == (0, []), err
    assert requests_to(legacy_emulator, ACCESS_TOKEN_REQUEST) == 1
    assert requests_to(legacy_emulator, f"GET {wire.subscriptions_path(V01)}") == 12
    assert all(IDENTIFIER not in arg for arg in argv)


def test_a_cached_legacy_token_starts_without_crypto_keyring_or_authlib(
    legacy_emulator: EmulatorHandle, keys_file: Callable[..., Path]
) -> None:
    env = _child_env(legacy_emulator, keys_file())
    base = [sys.executable, "-X", "importtime", "-m", "knoxhook"]
    for _ in range(2):  # the first fills the cache; the second must not sign anything
        result = subprocess.run(
            [*base, "subscriptions", "list", "--json"], env=env,
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert {"cryptography", "keyring", "authlib", "knoxhook.legacy.jwt"}.isdisjoint(imported)


def test_login_on_a_tty_prompts_for_the_identifier_with_hidden_input(
    cli: Cli,
    legacy_emulator: EmulatorHandle,
    keys_file: Callable[..., Path],
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import typer

    from knoxhook.cli import context

    asked: list[tuple[str, bool]] = []

    def prompt(text: str, hide_input: bool = False, err: bool = False) -> str:
        asked.append((text, hide_input))
        return IDENTIFIER

    monkeypatch.setattr(context.Invocation, "may_prompt", property(lambda self: True))
    monkeypatch.setattr(typer, "prompt", prompt)
    r = cli("auth", "login", "--keys", str(keys_file()), "--base-url", legacy_emulator.base_url)
    assert r.code == 0, r.err
    assert asked == [("Client Identifier", True)]
    assert list(memory_keyring.store) == [("knoxhook", "default:legacy")]


def test_login_from_the_environment_alone_and_without_an_identifier(
    cli: Cli,
    legacy_emulator: EmulatorHandle,
    keys_file: Callable[..., Path],
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KNOXHOOK_KEYS_FILE", str(keys_file()))
    r = cli("auth", "login", "--base-url", legacy_emulator.base_url)
    assert r.code == 2
    assert "no Client Identifier given" in r.err
    monkeypatch.setenv("KNOXHOOK_CLIENT_IDENTIFIER", IDENTIFIER)
    r = cli("auth", "login", "--base-url", legacy_emulator.base_url, "--json")
    assert (r.code, r.json()["auth"]) == (0, "legacy"), r.err


def test_region_picks_the_host_and_is_recorded(
    cli: Cli, keys_file: Callable[..., Path], memory_keyring: MemoryKeyring, isolated_env: Path
) -> None:
    from knoxhook.config import profile_values

    r = cli(
        "auth",
        "login",
        "--keys",
        str(keys_file()),
        "--region",
        "xx",
        "--client-identifier-stdin",
        stdin=b"id\n",
    )
    assert r.code == 2
    assert "--region must be one of: us, eu" in r.err
    assert profile_values(isolated_env / "config", "default") == {}


@pytest.mark.parametrize("args", [["--help"], ["auth", "login", "--help"], ["demo", "--help"]])
def test_help_never_imports_the_legacy_crypto(args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "knoxhook", *args],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert {"cryptography", "authlib", "knoxhook.legacy.keys", "knoxhook.legacy.jwt"}.isdisjoint(
        imported
    )
    if args != ["--help"]:
        assert "--keys" in result.stdout or "--auth" in result.stdout

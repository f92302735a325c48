"""Profiles (issue 9 item 7): ``auth list``, ``auth logout --forget``; config.toml edits
keep the user's comments and formatting (knoxhook.profiles, tomlkit); bad and unknown
profile names (defect 11) through a real process."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from knoxhook import config, tokens
from tests.cli.conftest import Cli
from tests.cli.knoxproc import knoxhook

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle
    from tests.fakes import MemoryKeyring

USER_FILE = """\
# my knoxhook settings: hand-written, keep my notes
default_profile = "prod"   # the one I use most

[emulator]
port = 8765  # for `knoxhook emulator run`

[profiles.prod]
# the real thing
client_id = 'prod-client'    # single quotes, as I like them
secret_store = "keyring"
"""


def config_path() -> Path:
    return Path(os.environ["KNOXHOOK_CONFIG_DIR"]) / "config.toml"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def login(cli: Cli, emu: EmulatorHandle, profile: str, *extra: str) -> None:
    r = cli(
        "--profile", profile, "auth", "login", "--client-id", emu.client_id,
        "--client-secret-stdin", "--base-url", emu.base_url, *extra,
        stdin=emu.client_secret.encode(),
    )  # fmt: skip
    assert r.code == 0, r.err


@pytest.fixture
def user_file() -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text(USER_FILE)
    path.chmod(0o600)
    return path


def test_login_and_forget_keep_the_rest_of_config_toml_byte_for_byte(
    cli: Cli, emulator: EmulatorHandle, user_file: Path
) -> None:
    login(cli, emulator, "lab", "--insecure-storage")
    after_login = user_file.read_text()
    assert after_login.startswith(USER_FILE)  # untouched, the new table after it
    assert after_login[len(USER_FILE) :] == (
        f'\n[profiles.lab]\nbase_url = "{emulator.base_url}"\n'
        f'client_id = "{emulator.client_id}"\nsecret_store = "file"\n'
    )
    assert mode(user_file) == 0o600
    r = cli("--profile", "lab", "auth", "logout", "--forget", "--yes")
    assert r.code == 0, r.err
    assert user_file.read_bytes() == USER_FILE.encode()
    assert mode(user_file) == 0o600


def test_a_login_to_an_annotated_profile_keeps_its_comments(
    cli: Cli, emulator: EmulatorHandle, user_file: Path, memory_keyring: MemoryKeyring
) -> None:
    login(cli, emulator, "prod")
    text = user_file.read_text()
    assert "# the real thing\n" in text
    assert 'secret_store = "keyring"\n' in text
    assert f'client_id = "{emulator.client_id}"    # single quotes, as I like them' in text
    assert text.startswith(USER_FILE.split("[profiles.prod]")[0])  # before the table: as is


def test_forget_removes_the_table_secret_keys_and_every_token_of_the_profile(
    cli: Cli, emulator: EmulatorHandle, user_file: Path, memory_keyring: MemoryKeyring
) -> None:
    login(cli, emulator, "lab")  # secret in the keyring
    login(cli, emulator, "other")
    lab = config.load_settings("lab")
    assert ("knoxhook", f"lab:{emulator.client_id}") in memory_keyring.store
    legacy_file = lab.config_dir / "secrets" / "lab.legacy.json"
    legacy_file.parent.mkdir(mode=0o700, exist_ok=True)
    legacy_file.write_text("{}")  # legacy material left from an earlier Knox Guard login
    memory_keyring.store[("knoxhook", "lab:legacy")] = "{}"
    stale = tokens.cache_path(config.load_settings("lab", overrides={"scope": "old"}))
    stale.write_text(json.dumps({"profile": "lab", "access_token": "x"}))  # another scope's
    r = cli("--profile", "lab", "auth", "logout", "--forget", "--yes", "--json")
    assert r.code == 0, r.err
    assert r.json() == {
        "profile": "lab",
        "profile_removed": True,
        "token_revoked": True,
        "tokens_deleted": 2,
        "secret_deleted": ["keyring", str(legacy_file)],
    }
    assert config.list_profiles(lab.config_dir) == ["other", "prod"]
    assert not any(user.startswith("lab:") for _, user in memory_keyring.store)
    assert not legacy_file.exists()
    assert not stale.exists()
    assert tokens.read_cached(config.load_settings("other")) is not None  # not its tokens
    assert emulator.client_secret not in r.out + r.err


def test_forget_off_a_terminal_needs_yes_and_changes_nothing(
    cli: Cli, emulator: EmulatorHandle, user_file: Path
) -> None:
    login(cli, emulator, "lab", "--insecure-storage")
    before = user_file.read_bytes()
    r = cli("--profile", "lab", "auth", "logout", "--forget")
    assert r.code == 2
    assert "Error: refusing to forget profile 'lab' without confirmation: not a terminal" in r.err
    assert "Hint: pass --yes to forget it without asking" in r.err
    assert user_file.read_bytes() == before
    assert tokens.read_cached(config.load_settings("lab")) is not None


def test_yes_without_forget_is_a_usage_error(cli: Cli) -> None:
    r = cli("auth", "logout", "--yes")
    assert r.code == 2
    assert "Error: --yes goes with --forget" in r.err


def test_auth_list_says_where_each_secret_lives_and_never_shows_it(
    cli: Cli, emulator: EmulatorHandle, user_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    login(cli, emulator, "lab", "--insecure-storage")
    monkeypatch.setenv("KNOXHOOK_BASE_URL", "https://elsewhere.example")  # not the stored one
    r = cli("auth", "list", "--json")
    assert r.code == 0, r.err
    rows = {row["profile"]: row for row in r.json()}
    assert list(rows) == ["lab", "prod"]
    assert rows["prod"]["default"] is True
    assert rows["lab"]["default"] is False
    assert rows["lab"]["base_url"] == emulator.base_url
    assert rows["lab"]["secret_source"] == "file"
    assert rows["lab"]["secret_location"].endswith("/secrets/lab")
    assert rows["lab"]["token_cached"] is True
    assert rows["prod"]["secret_source"] == "none"
    assert rows["prod"]["token_cached"] is False
    assert emulator.client_secret not in r.out
    table = cli("auth", "list")
    assert table.code == 0
    assert "lab" in table.out
    assert emulator.client_secret not in table.out


def test_auth_list_with_no_profiles_says_how_to_make_one(cli: Cli) -> None:
    r = cli("auth", "list")
    assert r.code == 0
    assert "create one with `knoxhook auth login`" in r.err
    assert cli("auth", "list", "--json").json() == []


@pytest.mark.parametrize(
    ("args", "env", "source"),
    [
        (("--profile", "bad name!"), {}, "--profile"),
        ((), {"KNOXHOOK_PROFILE": "prod/../x"}, "KNOXHOOK_PROFILE"),
    ],
)
def test_a_bad_profile_name_is_exit_2_naming_the_allowed_characters(
    args: tuple[str, ...], env: dict[str, str], source: str
) -> None:
    run = knoxhook(*args, "auth", "status", env=env, timeout=30)
    assert run.code == 2
    name = args[1] if args else env["KNOXHOOK_PROFILE"]
    assert run.err.splitlines()[0] == (
        f"Error: invalid profile name {name!r} ({source}): a profile name is letters, "
        "digits, '-' and '_' only"
    )
    assert run.out == ""


def test_status_of_a_profile_that_does_not_exist_says_so(user_file: Path) -> None:
    run = knoxhook("--profile", "nope", "auth", "status", timeout=30)
    assert run.code == 3
    assert run.err.splitlines() == [
        f"Error: profile 'nope' does not exist (not in {user_file})",
        "Hint: see the profiles with `knoxhook auth list`; create one with "
        "`knoxhook --profile nope auth login`",
    ]
    assert run.out.split()[:2] == ["profile", "nope"]  # what is known, as before

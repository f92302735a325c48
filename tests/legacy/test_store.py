"""Where the keys and the Client Identifier live: keyring first, 0600 file on request,
env wins, never config.toml; and the profile settings a legacy profile has."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from knoxhook import wire
from knoxhook.config import load_settings, save_profile
from knoxhook.credentials import KEYRING_SERVICE
from knoxhook.errors import NotConfiguredError, UsageError
from knoxhook.legacy import store
from tests.fakes import MemoryKeyring
from tests.legacy.conftest import IDENTIFIER, rsa_key, spki_b64


def test_keyring_keeps_both_and_resolve_reads_them_back(
    keys_file: Callable[..., Path], memory_keyring: MemoryKeyring
) -> None:
    settings = load_settings(profile="kg")
    creds = store.from_file(keys_file(), IDENTIFIER)
    assert store.store(settings, creds, insecure_file=False) == "keyring"
    (entry,) = memory_keyring.store
    assert entry == (KEYRING_SERVICE, "kg:legacy")
    again = store.resolve(settings)
    assert (again.identifier, again.keys.public_key_b64) == (IDENTIFIER, spki_b64(rsa_key(0)))
    assert store.locate(settings).kind == "keyring"
    assert IDENTIFIER not in repr(again)
    assert store.delete(settings) == ["keyring"]
    assert memory_keyring.store == {}
    with pytest.raises(NotConfiguredError) as exc:
        store.resolve(settings)
    assert exc.value.exit_code == 3
    assert "auth login --keys keys.json" in (exc.value.hint or "")


def test_no_keyring_without_insecure_storage_is_exit_3(keys_file: Callable[..., Path]) -> None:
    settings = load_settings(profile="kg")
    with pytest.raises(NotConfiguredError, match="no OS keyring is available") as exc:
        store.store(settings, store.from_file(keys_file(), IDENTIFIER), insecure_file=False)
    assert exc.value.exit_code == 3
    with pytest.raises(NotConfiguredError):
        store.check_storage(insecure_file=False)
    store.check_storage(insecure_file=True)


def test_insecure_storage_is_a_0600_file_and_config_toml_holds_neither(
    keys_file: Callable[..., Path], isolated_env: Path
) -> None:
    save_profile(isolated_env / "config", "kg", {"auth": "legacy", "secret_store": "file"})
    settings = load_settings(profile="kg")
    assert (
        store.store(settings, store.from_file(keys_file(), IDENTIFIER), insecure_file=True)
        == "file"
    )
    path = store.secret_file(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert store.resolve(settings).identifier == IDENTIFIER
    config = (isolated_env / "config" / "config.toml").read_text()
    assert IDENTIFIER not in config
    assert "PRIVATE" not in config
    assert spki_b64(rsa_key(0))[:40] not in config
    assert store.delete(settings) == [str(path)]


def test_the_environment_wins_part_by_part(
    keys_file: Callable[..., Path], memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(profile="kg")
    store.store(settings, store.from_file(keys_file(), IDENTIFIER), insecure_file=False)
    monkeypatch.setenv("KNOXHOOK_CLIENT_IDENTIFIER", "from-env")
    assert store.resolve(settings).identifier == "from-env"
    monkeypatch.setenv("KNOXHOOK_KEYS_FILE", str(keys_file(index=1, name="other.json")))
    both = store.resolve(settings)
    assert both.keys.public_key_b64 == spki_b64(rsa_key(1))
    assert store.locate(settings).kind == "env"


def test_a_malformed_keys_file_in_the_environment_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "keys.json"
    bad.write_text('{"Public": 1, "Private": "x"}')
    monkeypatch.setenv("KNOXHOOK_KEYS_FILE", str(bad))
    monkeypatch.setenv("KNOXHOOK_CLIENT_IDENTIFIER", IDENTIFIER)
    with pytest.raises(UsageError, match="field 'Public' is missing or not a string"):
        store.resolve(load_settings())


def test_a_damaged_keyring_entry_says_so(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.store[(KEYRING_SERVICE, "default:legacy")] = "{not json"
    with pytest.raises(NotConfiguredError, match=r"stored legacy credentials .* are damaged"):
        store.resolve(load_settings())


def test_a_legacy_profile_defaults_to_the_us_host_and_the_v0_1_path(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_profile(isolated_env / "config", "kg", {"auth": "legacy", "region": "eu"})
    settings = load_settings(profile="kg")
    assert (settings.auth, settings.base_url) == ("legacy", wire.LEGACY_EU_HOST)
    assert settings.kwn_prefix == "/kcs/kwn/v0.1"
    monkeypatch.setenv("KNOXHOOK_API_VERSION", "v1")
    assert load_settings(profile="kg").kwn_prefix == "/kwn/v1"
    monkeypatch.setenv("KNOXHOOK_AUTH", "legacy")
    monkeypatch.delenv("KNOXHOOK_API_VERSION")
    plain = load_settings()
    assert (plain.base_url, plain.kwn_prefix) == (wire.LEGACY_US_HOST, "/kcs/kwn/v0.1")
    assert load_settings(profile="other", env={}).kwn_prefix == "/kwn/v1"


def test_an_unknown_auth_or_api_version_names_where_it_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KNOXHOOK_AUTH", "kerberos")
    with pytest.raises(UsageError, match=r"unknown auth 'kerberos' \(from env\)"):
        load_settings()
    monkeypatch.setenv("KNOXHOOK_AUTH", "legacy")
    monkeypatch.setenv("KNOXHOOK_API_VERSION", "v2")
    with pytest.raises(UsageError, match=r"unknown api_version 'v2' \(from env\)"):
        load_settings()

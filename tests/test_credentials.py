"""Where the client secret comes from, and where it is stored."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import keyring
import pytest
from keyring.backends import null

from knoxhook import config, credentials
from knoxhook.config import Settings
from knoxhook.errors import ExitCode, NotConfiguredError, UsageError
from tests.fakes import FailingKeyring, MemoryKeyring

SECRET = "s3cret-value-123"


@pytest.fixture
def settings() -> Settings:
    return dataclasses.replace(config.load_settings("work"), client_id="client-1")


def as_file_store(settings: Settings) -> Settings:
    return dataclasses.replace(settings, secret_store="file")


def test_nothing_stored_is_not_configured_and_names_the_options(settings: Settings) -> None:
    with pytest.raises(NotConfiguredError) as info:
        credentials.resolve_secret(settings)
    assert info.value.exit_code == ExitCode.NOT_CONFIGURED
    assert "no client secret for profile 'work'" in info.value.message
    assert info.value.hint is not None
    assert "KNOXHOOK_CLIENT_SECRET" in info.value.hint
    assert "auth login" in info.value.hint


def test_env_beats_keyring_beats_file(
    settings: Settings, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials.store_secret(as_file_store(settings), "from-file", insecure_file=True)
    assert credentials.resolve_secret(as_file_store(settings)) == "from-file"
    memory_keyring.set_password("knoxhook", "work:client-1", "from-keyring")
    assert credentials.resolve_secret(as_file_store(settings)) == "from-keyring"
    assert credentials.locate_secret(settings).kind == "keyring"
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", "from-env")
    assert credentials.resolve_secret(as_file_store(settings)) == "from-env"
    assert credentials.locate_secret(settings) == credentials.SecretLocation(
        "env", "KNOXHOOK_CLIENT_SECRET"
    )


def test_the_file_is_read_only_when_the_profile_opted_in(settings: Settings) -> None:
    credentials.store_secret(as_file_store(settings), SECRET, insecure_file=True)
    with pytest.raises(NotConfiguredError):
        credentials.resolve_secret(settings)  # secret_store not "file"
    assert credentials.resolve_secret(as_file_store(settings)) == SECRET


def test_store_in_keyring_by_profile_and_client(
    settings: Settings, memory_keyring: MemoryKeyring
) -> None:
    assert credentials.store_secret(settings, SECRET, insecure_file=False) == "keyring"
    assert memory_keyring.store == {("knoxhook", "work:client-1"): SECRET}
    assert credentials.resolve_secret(settings) == SECRET
    location = credentials.locate_secret(settings)
    assert location.kind == "keyring"
    assert SECRET not in location.detail
    assert not credentials.secret_file(settings).exists()


def test_no_keyring_and_no_opt_in_is_a_clear_error(settings: Settings) -> None:
    assert not credentials.keyring_usable()  # the null backend (tests/conftest.py)
    with pytest.raises(NotConfiguredError) as info:
        credentials.store_secret(settings, SECRET, insecure_file=False)
    assert "no OS keyring is available" in info.value.message
    assert info.value.hint is not None
    assert "--insecure-storage" in info.value.hint
    assert "KNOXHOOK_CLIENT_SECRET" in info.value.hint
    assert SECRET not in str(info.value) + info.value.hint


def test_insecure_file_is_0600_in_a_0700_dir_and_replaces_keyring_copy(
    settings: Settings, memory_keyring: MemoryKeyring
) -> None:
    credentials.store_secret(settings, "old", insecure_file=False)
    assert credentials.store_secret(settings, SECRET, insecure_file=True) == "file"
    path = credentials.secret_file(settings)
    assert path.read_text() == SECRET
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert memory_keyring.store == {}
    assert credentials.locate_secret(as_file_store(settings)) == credentials.SecretLocation(
        "file", str(path)
    )


def test_a_broken_keyring_falls_through_instead_of_crashing(settings: Settings) -> None:
    keyring.set_keyring(FailingKeyring())
    try:
        credentials.store_secret(as_file_store(settings), SECRET, insecure_file=True)
        assert credentials.resolve_secret(as_file_store(settings)) == SECRET
        with pytest.raises(NotConfiguredError, match=r"keyring could not be read \(KeyringError\)"):
            credentials.resolve_secret(settings)
        with pytest.raises(NotConfiguredError, match="OS keyring refused it"):
            credentials.store_secret(settings, SECRET, insecure_file=False)
        assert credentials.delete_secret(settings) == [str(credentials.secret_file(settings))]
    finally:
        keyring.set_keyring(null.Keyring())


def test_delete_is_idempotent(settings: Settings, memory_keyring: MemoryKeyring) -> None:
    credentials.store_secret(settings, SECRET, insecure_file=False)
    assert credentials.delete_secret(settings) == ["keyring"]
    assert credentials.delete_secret(settings) == []
    assert memory_keyring.store == {}


def test_profiles_do_not_share_secrets(settings: Settings, memory_keyring: MemoryKeyring) -> None:
    other = dataclasses.replace(settings, profile="other")
    credentials.store_secret(settings, SECRET, insecure_file=False)
    with pytest.raises(NotConfiguredError):
        credentials.resolve_secret(other)
    assert Path(credentials.secret_file(other)).name == "other"


def test_the_secret_is_never_written_through_a_planted_link(
    settings: Settings, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    path = credentials.secret_file(settings)
    path.parent.mkdir(parents=True)
    path.symlink_to(target)
    with pytest.raises(UsageError, match="is a symbolic link: refusing to follow it") as info:
        credentials.store_secret(settings, SECRET, insecure_file=True)
    assert str(path) in info.value.message
    assert info.value.exit_code == ExitCode.USAGE
    assert target.read_text() == ""

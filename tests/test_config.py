"""Settings resolution and writing config.toml (atomic, 0600, dir 0700, no secrets)."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knoxhook import config
from knoxhook.errors import ExitCode, UsageError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_save_profile_writes_0600_file_in_0700_dir(tmp_path: Path) -> None:
    directory = tmp_path / "fresh" / "knoxhook"
    old = os.umask(0)  # the most permissive umask: modes must not depend on it
    try:
        path = config.save_profile(directory, "work", {"client_id": "abc"})
    finally:
        os.umask(old)
    assert path == directory / "config.toml"
    assert mode(path) == 0o600
    assert mode(directory) == 0o700
    assert mode(directory.parent) == 0o700  # a parent we had to create, too
    assert tomllib.loads(path.read_text()) == {"profiles": {"work": {"client_id": "abc"}}}
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_save_profile_merges_and_none_removes_a_key(tmp_path: Path) -> None:
    config.save_profile(tmp_path, "a", {"client_id": "one", "scope": "kwn"})
    config.save_profile(tmp_path, "b", {"client_id": "two"}, make_default=True)
    config.save_profile(tmp_path, "a", {"scope": None, "base_url": "http://x"})
    document = config.read_config(tmp_path)
    assert document["profiles"]["a"] == {"client_id": "one", "base_url": "http://x"}
    assert document["default_profile"] == "b"
    assert config.list_profiles(tmp_path) == ["a", "b"]
    assert config.profile_values(tmp_path, "missing") == {}


def test_save_profile_refuses_anything_that_is_not_a_setting(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a profile setting: client_secret"):
        config.save_profile(tmp_path, "a", {"client_secret": "s3cr3t"})
    assert not (tmp_path / "config.toml").exists()


@pytest.mark.parametrize("name", ["", "a b", "../x", "a.b", "é"])
def test_profile_names_must_be_bare_keys(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match="invalid profile name") as info:
        config.save_profile(tmp_path, name, {"client_id": "x"})
    assert info.value.exit_code == ExitCode.USAGE


def test_other_content_of_config_toml_survives_a_save(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'default_profile = "x"\n[emulator]\nport = 8765\nstrict = true\n'
        '[profiles.x]\nclient_id = "c"\n'
    )
    config.save_profile(tmp_path, "y", {"client_id": "d"})
    document = config.read_config(tmp_path)
    assert document == {
        "default_profile": "x",
        "emulator": {"port": 8765, "strict": True},
        "profiles": {"x": {"client_id": "c"}, "y": {"client_id": "d"}},
    }


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=40))
def test_any_string_value_round_trips_through_toml(value: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = config.save_profile(Path(tmp), "p", {"scope": value})
        assert tomllib.loads(path.read_text("utf-8"))["profiles"]["p"]["scope"] == value


def test_precedence_flag_over_env_over_profile_over_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cdir = Path(os.environ["KNOXHOOK_CONFIG_DIR"])
    config.save_profile(cdir, "p", {"base_url": "http://profile", "client_id": "pc", "scope": "ps"})
    monkeypatch.setenv("KNOXHOOK_CLIENT_ID", "ec")
    monkeypatch.setenv("KNOXHOOK_SCOPE", "es")
    settings = config.load_settings("p", overrides={"scope": "fs", "client_id": None})
    assert (settings.base_url, settings.client_id, settings.scope) == (
        "http://profile",
        "ec",
        "fs",
    )
    assert settings.token_url == "http://profile/ams/v1/oauth2/token"
    assert settings.sources is not None
    assert settings.sources["scope"] == "flag"
    assert settings.sources["client_id"] == "env"
    assert settings.sources["base_url"] == "profile"
    assert settings.sources["tenant_id"] == "default"
    assert settings.revoke_url == "http://profile/ams/v1/oauth2/revoke"


def test_default_profile_and_env_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    cdir = Path(os.environ["KNOXHOOK_CONFIG_DIR"])
    config.save_profile(cdir, "one", {"client_id": "c1"})
    config.save_profile(cdir, "two", {"client_id": "c2"})
    assert config.load_settings().profile == "default"
    config.set_default_profile(cdir, "one")
    assert config.load_settings().client_id == "c1"
    monkeypatch.setenv("KNOXHOOK_PROFILE", "two")
    assert config.load_settings().client_id == "c2"
    assert config.load_settings("one").client_id == "c1"


def test_a_broken_config_file_is_a_usage_error_naming_it() -> None:
    cdir = Path(os.environ["KNOXHOOK_CONFIG_DIR"])
    cdir.mkdir(parents=True)
    (cdir / "config.toml").write_text("profiles = [")
    with pytest.raises(UsageError, match=r"cannot read .*config\.toml") as info:
        config.load_settings()
    assert info.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("text", ["profiles = 3", 'profiles = "work"', "profiles = [1]"])
def test_a_profiles_key_that_is_not_a_table_is_a_usage_error_on_read_and_write(text: str) -> None:
    cdir = Path(os.environ["KNOXHOOK_CONFIG_DIR"])
    cdir.mkdir(parents=True)
    (cdir / "config.toml").write_text(text)
    with pytest.raises(UsageError, match=r"'profiles' in .*config\.toml is not a table") as info:
        config.load_settings()
    assert info.value.exit_code == ExitCode.USAGE
    with pytest.raises(UsageError, match="is not a table"):
        config.save_profile(cdir, "work", {"client_id": "abc"})
    assert (cdir / "config.toml").read_text() == text  # left as it was


def test_a_config_file_that_is_not_utf8_is_a_usage_error_naming_it() -> None:
    cdir = Path(os.environ["KNOXHOOK_CONFIG_DIR"])
    cdir.mkdir(parents=True)
    (cdir / "config.toml").write_bytes(b"\xff\xfe[profiles.default]\n")
    with pytest.raises(UsageError, match=r"cannot read .*config\.toml") as info:
        config.load_settings()
    assert info.value.exit_code == ExitCode.USAGE


def test_a_private_dir_under_a_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match=r"cannot use the directory .*a-file/tokens") as info:
        config.ensure_private_dir(blocker / "tokens")
    assert info.value.exit_code == ExitCode.USAGE
    assert "KNOXHOOK_CACHE_DIR" in (info.value.hint or "")


def test_write_private_replaces_atomically_and_keeps_0600(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    os.chmod(target, 0o644)
    config.write_private(target, b"new")
    assert target.read_bytes() == b"new"
    assert mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_allow_http_is_off_unless_a_flag_env_or_profile_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cdir = Path(os.environ["KNOXHOOK_CONFIG_DIR"])
    off = config.load_settings()
    assert (off.allow_http, off.source_of("allow_http")) == (False, "allow_http")
    assert config.load_settings(allow_http=True).source_of("allow_http") == "--allow-http"
    for value in ("", "0", "false", "No", "off"):
        monkeypatch.setenv("KNOXHOOK_ALLOW_HTTP", value)
        assert config.load_settings().allow_http is False
    monkeypatch.setenv("KNOXHOOK_ALLOW_HTTP", "TRUE")
    assert config.load_settings().source_of("allow_http") == "KNOXHOOK_ALLOW_HTTP"
    monkeypatch.delenv("KNOXHOOK_ALLOW_HTTP")
    cdir.mkdir(parents=True)
    (cdir / "config.toml").write_text("[profiles.lab]\nallow_http = true\n")
    lab = config.load_settings("lab")
    assert lab.allow_http is True
    assert lab.source_of("allow_http") == "allow_http in profile 'lab' (config.toml)"
    assert config.load_settings("other").allow_http is False


def test_source_of_names_the_flag_the_variable_or_the_profile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KNOXHOOK_TOKEN_URL", "https://t.example/token")
    settings = config.load_settings(overrides={"base_url": "https://b.example"})
    assert settings.source_of("base_url") == "--base-url"
    assert settings.source_of("token_url") == "KNOXHOOK_TOKEN_URL"
    assert settings.source_of("tenant_id") == "tenant_id"  # a default: just its name


def test_a_symlinked_config_file_is_refused_naming_it_and_left_alone(tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles.toml"
    dotfiles.write_text('[profiles.a]\nclient_id = "kept"\n')
    directory = tmp_path / "knoxhook"
    directory.mkdir()
    (directory / "config.toml").symlink_to(dotfiles)
    with pytest.raises(UsageError) as info:
        config.save_profile(directory, "a", {"client_id": "new"})
    assert info.value.message == (
        f"cannot write {directory / 'config.toml'}: {directory / 'config.toml'} is a "
        "symbolic link: refusing to follow it"
    )
    assert info.value.exit_code == ExitCode.USAGE
    assert dotfiles.read_text() == '[profiles.a]\nclient_id = "kept"\n'
    assert (directory / "config.toml").is_symlink()

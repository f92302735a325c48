"""14.3: the token cache trusts nothing it did not write.

The audit planted a symlinked ``tokens/`` directory (followed, and its token trusted)
and wrote ``expires_at: "Infinity"`` into a token file (``auth status`` crashed). Each
case here plants something, under ``umask 000``, against the emulator on 127.0.0.1:
the planted token is never used (``auth token`` prints the emulator's own), ``auth
status`` says there is no cached token, and the cache ends up a fresh 0700 directory of
ours holding a 0600 token, with what was planted left untouched.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from knoxhook import config, tokencache
from knoxhook.emulator.testing import EmulatorHandle
from tests.cli.conftest import Cli

pytestmark = pytest.mark.usefixtures("open_umask")

PLANTED = "planted-token-from-someone-else"
OTHER_UID = 12345


def tokens_of(settings: config.Settings) -> Path:
    return settings.cache_dir / tokencache.TOKENS_DIR


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def record(**changes: object) -> dict[str, object]:
    now = time.time()
    return {"access_token": PLANTED, "expires_at": now + 3600, "obtained_at": now} | changes


def plant(path: Path, document: object | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = document if isinstance(document, str) else json.dumps(document)
    path.write_text(text)
    os.chmod(path, 0o600)


def chown_to_someone_else(path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user")
    os.chown(path, OTHER_UID, OTHER_UID, follow_symlinks=False)


def assert_fresh_token_used(cli: Cli, knox: EmulatorHandle) -> str:
    status = cli("auth", "status", "--json")
    assert status.code == 0, status.err
    assert status.json()["token_cached"] is False  # "no cached token", no crash
    assert status.json()["token_expires_at"] is None
    r = cli("auth", "token")
    assert r.code == 0, r.err
    token = r.out.strip()
    assert token
    assert token != PLANTED
    settings = config.load_settings()
    tokens = tokens_of(settings)
    assert not tokens.is_symlink()
    assert (mode(settings.cache_dir), mode(tokens)) == (0o700, 0o700)
    assert os.lstat(tokens).st_uid == os.geteuid()
    assert mode(tokencache.cache_path(settings)) == 0o600
    assert tokencache.read_cached(settings) is not None
    again = cli("auth", "token")
    assert again.out.strip() == token  # now the cache is trusted and reused
    return token


def test_a_symlinked_tokens_dir_is_not_followed_and_is_replaced(
    cli: Cli, knox: EmulatorHandle, tmp_path: Path
) -> None:
    settings = config.load_settings()
    elsewhere = tmp_path / "attacker"
    plant(elsewhere / tokencache.cache_path(settings).name, record())
    settings.cache_dir.mkdir(parents=True)
    os.chmod(settings.cache_dir, 0o700)
    tokens_of(settings).symlink_to(elsewhere)
    assert_fresh_token_used(cli, knox)
    assert sorted(p.name for p in elsewhere.iterdir()) == [
        tokencache.cache_path(settings).name
    ]  # nothing written through the link, nothing deleted there
    assert json.loads(next(elsewhere.iterdir()).read_text())["access_token"] == PLANTED


def test_a_symlinked_cache_dir_is_not_followed_and_is_replaced(
    cli: Cli, knox: EmulatorHandle, tmp_path: Path
) -> None:
    settings = config.load_settings()
    elsewhere = tmp_path / "attacker-cache"
    planted = elsewhere / tokencache.TOKENS_DIR / tokencache.cache_path(settings).name
    plant(planted, record())
    settings.cache_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.cache_dir.symlink_to(elsewhere)
    assert_fresh_token_used(cli, knox)
    assert json.loads(planted.read_text())["access_token"] == PLANTED


@pytest.mark.parametrize("which", ["cache", "tokens"])
def test_a_directory_of_another_user_is_not_trusted(
    cli: Cli, knox: EmulatorHandle, which: str
) -> None:
    settings = config.load_settings()
    plant(tokencache.cache_path(settings), record())
    for directory in (settings.cache_dir, tokens_of(settings)):
        os.chmod(directory, 0o700)
    chown_to_someone_else(settings.cache_dir if which == "cache" else tokens_of(settings))
    assert_fresh_token_used(cli, knox)


@pytest.mark.parametrize("which", ["cache", "tokens"])
def test_a_directory_others_can_write_to_is_not_trusted(
    cli: Cli, knox: EmulatorHandle, which: str
) -> None:
    settings = config.load_settings()
    plant(tokencache.cache_path(settings), record())  # made under umask 000: 0777 dirs
    os.chmod(settings.cache_dir, 0o777 if which == "cache" else 0o700)
    os.chmod(tokens_of(settings), 0o777 if which == "tokens" else 0o700)
    assert_fresh_token_used(cli, knox)


def _symlinked(path: Path) -> None:
    real = path.with_name("real.json")
    path.rename(real)
    path.symlink_to(real)


def _loose(path: Path) -> None:
    os.chmod(path, 0o666)  # noqa: S103 - a file someone else could have written


def _theirs(path: Path) -> None:
    chown_to_someone_else(path)


@pytest.mark.parametrize("tamper", [_symlinked, _loose, _theirs], ids=["link", "0666", "theirs"])
def test_a_token_file_it_did_not_write_is_not_trusted(
    cli: Cli, knox: EmulatorHandle, tamper: Callable[[Path], None]
) -> None:
    settings = config.load_settings()
    path = tokencache.cache_path(settings)
    plant(path, record())
    for directory in (settings.cache_dir, path.parent):
        os.chmod(directory, 0o700)
    tamper(path)
    assert_fresh_token_used(cli, knox)


@pytest.mark.parametrize(
    "content",
    [
        json.dumps(record(expires_at="Infinity")),
        json.dumps(record(expires_at=float("inf"))),  # json.dumps writes the bare Infinity
        json.dumps(record(expires_at=float("nan"))),
        json.dumps(record(obtained_at=float("-inf"))),
        json.dumps(record()).replace('"expires_at": ', '"expires_at": 1e999 + 0 * '),
        '{"access_token": "x", "expires_at": 1e999, "obtained_at": 0}',
        json.dumps(record(expires_at=1e300)),
        json.dumps(record(expires_at=10**400)),
        json.dumps(record(expires_at=-1)),
        json.dumps(record(expires_at=True)),
        json.dumps(record(expires_at="soon")),
        json.dumps(record(access_token="a\r\nX-Injected: 1")),
        json.dumps(record(access_token="")),
        json.dumps(record(access_token=["list"])),
        json.dumps(record(scope=7)),
        json.dumps([record()]),
        "not json at all",
        "\xff\xfe",
        json.dumps(record(pad="x" * 70_000)),
    ],
    ids=[
        "string-Infinity", "Infinity", "NaN", "minus-Infinity", "garbled", "1e999", "1e300",
        "huge-int", "negative", "bool", "string", "header-injection", "empty-token",
        "token-list", "scope-int", "array", "not-json", "not-utf8", "oversized",
    ],
)  # fmt: skip
def test_a_token_file_that_is_not_what_knoxhook_writes_is_ignored_and_replaced(
    cli: Cli, knox: EmulatorHandle, content: str
) -> None:
    settings = config.load_settings()
    path = tokencache.cache_path(settings)
    plant(path, content)
    for directory in (settings.cache_dir, path.parent):
        os.chmod(directory, 0o700)
    assert tokencache.read_cached(settings) is None
    assert_fresh_token_used(cli, knox)


def test_what_write_cached_writes_reads_back(isolated_env: Path) -> None:
    """The checks refuse nothing knoxhook itself writes."""
    settings = config.load_settings(overrides={"client_id": "c"})
    token = tokencache.Token("abc.DEF-_~+/=", time.time() + 60, time.time(), scope="kwn")
    tokencache.write_cached(settings, token)
    assert tokencache.read_cached(settings) == token


def test_a_cache_dir_that_is_a_file_is_refused_and_never_deleted(
    cli: Cli, knox: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "notes.txt"
    mine.write_text("the user's own file")
    monkeypatch.setenv("KNOXHOOK_CACHE_DIR", str(mine))
    r = cli("auth", "token")
    assert r.code == 2
    assert f"Error: cannot use the directory {mine}: Not a directory" in r.err
    assert mine.read_text() == "the user's own file"

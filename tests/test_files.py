"""knoxhook.files: private directories and files, whatever the umask, never through a link."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from knoxhook import files
from knoxhook.errors import UsageError


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """The most permissive umask: no mode here may depend on it."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_make_private_dirs_makes_every_missing_component_0700(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)  # noqa: S103 - loose on purpose
    target = tmp_path / "a" / "b" / "c"
    assert files.make_private_dirs(target) == target
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", target)] == [0o700] * 3
    assert mode(tmp_path) == 0o755  # an existing directory is the user's: left alone


def test_make_private_dirs_fails_with_oserror_when_a_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        files.make_private_dirs(tmp_path / "file" / "sub")


def test_ensure_private_dir_tightens_its_own_directory(tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir(mode=0o777)
    files.ensure_private_dir(own)
    assert mode(own) == 0o700


def test_ensure_private_dir_is_a_usage_error_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match=r"cannot use the directory .*file/sub: Not a directory"):
        files.ensure_private_dir(tmp_path / "file" / "sub", hint="pass --data-dir elsewhere")


def test_write_private_is_0600_in_new_0700_parents_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "secret"
    files.write_private(path, b"one")
    files.write_private(path, b"two")  # replaced whole
    assert path.read_bytes() == b"two"
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(path.parent.parent) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["secret"]


def test_write_private_tightens_a_file_that_was_world_readable(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("old")
    os.chmod(path, 0o666)  # noqa: S103 - loose on purpose
    files.write_private(path, b"new")
    assert mode(path) == 0o600


def test_write_private_refuses_a_symlink_and_leaves_its_target_alone(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"victim")
    link = tmp_path / "token.json"
    link.symlink_to(target)
    with pytest.raises(files.UnsafePathError, match=r"token\.json is a symbolic link"):
        files.write_private(link, b"planted")
    assert target.read_bytes() == b"victim"
    assert link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target", "token.json"]


def test_write_private_can_give_an_explicit_shared_mode(tmp_path: Path) -> None:
    path = tmp_path / "knox.pem"
    files.write_private(path, b"pem", mode=0o644)
    assert mode(path) == 0o644  # not the umask's 0666
    with pytest.raises(ValueError, match="writable by others"):
        files.write_private(path, b"pem", mode=0o666)
    assert path.read_bytes() == b"pem"


def test_open_append_creates_0600_in_0700_parents_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "record.ndjson"
    for line in (b"one\n", b"two\n"):
        fd = files.open_append(path)
        os.write(fd, line)
        os.close(fd)
    assert path.read_bytes() == b"one\ntwo\n"
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


def test_open_append_refuses_a_planted_symlink(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_bytes(b"")
    link = tmp_path / "record.ndjson"
    link.symlink_to(target)
    with pytest.raises(files.UnsafePathError) as info:
        files.open_append(link)
    assert info.value.strerror == f"{link} is a symbolic link: refusing to follow it"
    assert target.read_bytes() == b""
    dangling = tmp_path / "dangling.ndjson"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(files.UnsafePathError):
        files.open_append(dangling)
    assert not (tmp_path / "nowhere").exists()  # O_CREAT did not make the link's target


def test_open_append_tightens_an_existing_loose_file(tmp_path: Path) -> None:
    path = tmp_path / "record.ndjson"
    path.write_bytes(b"kept\n")
    os.chmod(path, 0o644)
    os.close(files.open_append(path))
    assert mode(path) == 0o600
    assert path.read_bytes() == b"kept\n"


def test_prepare_sqlite_gives_the_database_and_its_wal_files_0600(tmp_path: Path) -> None:
    path = files.prepare_sqlite(tmp_path / "state" / "emulator.db")
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")
        db.commit()
        side = sorted(p.name for p in path.parent.iterdir())
        assert side == ["emulator.db", "emulator.db-shm", "emulator.db-wal"]
        assert {p.name: mode(p) for p in path.parent.iterdir()} == dict.fromkeys(side, 0o600)
    finally:
        db.close()


def test_prepare_sqlite_tightens_an_old_0644_database_and_side_files(tmp_path: Path) -> None:
    path = tmp_path / "emulator.db"
    sqlite3.connect(path).close()
    wal = tmp_path / "emulator.db-wal"
    wal.write_bytes(b"")
    os.chmod(path, 0o644)
    os.chmod(wal, 0o644)
    files.prepare_sqlite(path)
    assert (mode(path), mode(wal)) == (0o600, 0o600)


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", "-journal"])
def test_prepare_sqlite_refuses_a_symlinked_database_or_side_file(
    tmp_path: Path, suffix: str
) -> None:
    target = tmp_path / "victim"
    target.write_bytes(b"")
    os.chmod(target, 0o644)
    link = tmp_path / f"nonces.db{suffix}"
    link.symlink_to(target)
    with pytest.raises(files.UnsafePathError, match=rf"nonces\.db{suffix} is a symbolic link"):
        files.prepare_sqlite(tmp_path / "nonces.db")
    assert mode(target) == 0o644


def test_private_dir_problem_names_what_is_wrong(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir(mode=0o700)
    assert files.private_dir_problem(good) is None
    assert files.private_dir_problem(tmp_path / "missing") is None
    loose = tmp_path / "loose"
    loose.mkdir()
    os.chmod(loose, 0o777)  # noqa: S103 - loose on purpose
    assert files.private_dir_problem(loose) == "is writable by group or others (mode 0777)"
    link = tmp_path / "link"
    link.symlink_to(good)
    assert files.private_dir_problem(link) == "is a symbolic link"
    plain = tmp_path / "plain"
    plain.write_text("")
    assert files.private_dir_problem(plain) == "is not a directory"


def test_private_dir_problem_refuses_a_directory_of_another_user(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root (CI containers): make one owned by someone else
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o700)
        os.chown(theirs, 12345, 12345)
    else:
        theirs = Path("/")
    uid = os.lstat(theirs).st_uid
    problem = files.private_dir_problem(theirs)
    assert problem == f"is owned by uid {uid}, not by you (uid {os.geteuid()})"


def test_read_private_tightens_and_refuses_a_link(tmp_path: Path) -> None:
    key = tmp_path / "signing-key.pem"
    key.write_bytes(b"KEY")
    os.chmod(key, 0o644)
    assert files.read_private(key) == b"KEY"
    assert mode(key) == 0o600
    link = tmp_path / "link.pem"
    link.symlink_to(key)
    with pytest.raises(files.UnsafePathError):
        files.read_private(link)

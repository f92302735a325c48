"""Private files: directories 0700, files 0600 from their first byte, whatever the umask.

The one implementation for everything knoxhook keeps on disk that another user must not
read or plant: the config, the opt-in secret file, cached tokens and certificates, the
receiver's record and nonce store, the emulator's state and signing key (DESIGN.md:
"Secret files are created 0600 from the start"; issue 14: under ``umask 000`` the
missing parents of ``--record`` were 0777 and a planted symlink had callbacks appended
to its target).

- Directories: every missing component is made with ``mkdir`` and then ``chmod 0700``
  (``mkdir(mode=...)`` is filtered by the umask, and ``parents=True`` gives parents the
  umask's mode). ``make_private_dirs`` leaves existing directories alone (the user's
  ``/tmp``) unless told to ``tighten`` the last one; ``ensure_private_dir`` does that
  for knoxhook's own directories and turns a failure into a usage error.
- Whole files: ``write_private`` (temp file ``O_EXCL|O_NOFOLLOW`` 0600, fsync,
  ``os.replace``, fsync of the directory); ``store_private`` for knoxhook's own files
  turns its failures into a usage error naming the path.
- Appended files (records, logs): ``open_append``; reading a key: ``read_private``.
- SQLite databases: ``prepare_sqlite`` before ``sqlite3.connect``.

Each refuses a path whose final component is a symbolic link (``UnsafePathError``, an
``OSError``, so callers that name their flag in ``OSError`` messages keep doing so).
``private_dir_problem`` says why a directory is not to be trusted (the token cache).
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

from knoxhook.errors import UsageError

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # POSIX; Windows has no symlink-following open
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# SQLite's side files: it creates them with the database file's mode (os_unix.c,
# findCreateFileMode), so a 0600 database gives 0600 side files; existing ones are checked.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
WRITABLE_BY_OTHERS = "is writable by group or others"  # the one fixable problem of ours


class UnsafePathError(OSError):
    """A private file's path ends in a symbolic link: knoxhook never writes through one."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            errno.ELOOP, f"{path} is a symbolic link: refusing to follow it", str(path)
        )


def _uid() -> int | None:
    geteuid = getattr(os, "geteuid", None)
    return geteuid() if geteuid else None


def make_private_dirs(path: Path, *, tighten: bool = False) -> Path:
    """Create ``path`` and each missing parent, each 0700 whatever the umask.

    Existing directories keep their mode (``--record /tmp/x/cb.ndjson`` must not chmod
    ``/tmp``), except ``path`` itself with ``tighten`` (a directory of knoxhook's own,
    like the emulator's ``--data-dir``). ``OSError`` when one cannot be made (a parent
    is a file, no permission).
    """
    missing: list[Path] = []
    for directory in (path, *path.parents):
        if os.path.lexists(directory):
            break
        missing.append(directory)
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # made meanwhile by another process: theirs to keep as it is
        os.chmod(directory, PRIVATE_DIR)  # mkdir's mode is filtered by the umask
    if tighten:
        if not stat.S_ISDIR(os.stat(path).st_mode):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
        os.chmod(path, PRIVATE_DIR)
    return path


def ensure_private_dir(path: Path, *, hint: str | None = None) -> Path:
    """Create ``path`` (and any missing parent) 0700, and keep ``path`` itself 0700.

    For knoxhook's own directories (config, cache, tokens, certificates, secrets, the
    emulator's data dir). UsageError naming ``path`` when it cannot be had: these come
    from the environment (``KNOXHOOK_CONFIG_DIR``/``_CACHE_DIR``) or a flag.
    """
    try:
        make_private_dirs(path, tighten=True)
    except OSError as exc:
        raise UsageError(
            f"cannot use the directory {path}: {exc.strerror or exc}",
            hint=hint or "check it, or point KNOXHOOK_CONFIG_DIR / KNOXHOOK_CACHE_DIR elsewhere",
        ) from exc
    return path


def private_dir_problem(path: Path) -> str | None:
    """Why ``path`` is not a directory only this user controls, or None when it is.

    Not a directory, a symbolic link, owned by another user, or writable by group or
    others (so someone else could have planted what is in it).
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None  # nothing there yet: it will be made private
    except OSError as exc:
        return f"cannot be examined ({exc.strerror or exc})"
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    uid = _uid()
    if uid is not None and st.st_uid != uid:
        return f"is owned by uid {st.st_uid}, not by you (uid {uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{WRITABLE_BY_OTHERS} (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def _refuse_symlink(path: Path) -> None:
    if os.path.islink(path):
        raise UnsafePathError(path)


def _tighten(fd: int, mode: int = PRIVATE_FILE) -> None:
    """Give an existing regular file of ours ``mode`` (an older knoxhook made 0644 ones)."""
    st = os.fstat(fd)
    uid = _uid()
    ours = uid is None or st.st_uid == uid
    if stat.S_ISREG(st.st_mode) and ours and stat.S_IMODE(st.st_mode) != mode:
        os.fchmod(fd, mode)


def _open_nofollow(path: Path, flags: int, mode: int = PRIVATE_FILE) -> int:
    try:
        return os.open(path, flags | _NOFOLLOW | _CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP and os.path.islink(path):
            raise UnsafePathError(path) from exc
        raise


def write_private(path: Path, data: bytes, *, mode: int = PRIVATE_FILE) -> None:
    """Write ``data`` to ``path`` atomically; the file has ``mode`` (0600) from its first
    byte, whatever the umask. Missing parent directories are made 0700.

    A temp file in the same directory is created ``O_EXCL|O_NOFOLLOW``, chmod-ed, synced,
    then ``os.replace``-d over ``path`` (which replaces a link rather than following it;
    a ``path`` that is a symbolic link is refused anyway: ``UnsafePathError``), and the
    directory is synced, so readers never see a half-written file and a crash loses none.
    """
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ValueError(f"refusing to make {path} writable by others (mode {mode:04o})")
    _refuse_symlink(path)
    make_private_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = _open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)  # exactly ``mode``: the open's was umask-filtered
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_dir(path.parent)


def store_private(path: Path, data: bytes) -> Path:
    """``write_private`` for knoxhook's own files (config, secret file, token,
    certificate): a failure (a link planted there, no permission, a full disk) is a
    usage error naming the path, not a crash."""
    try:
        write_private(path, data)
    except OSError as exc:
        raise UsageError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="remove or fix it (knoxhook never writes through a symbolic link), "
            "or point KNOXHOOK_CONFIG_DIR / KNOXHOOK_CACHE_DIR elsewhere",
        ) from exc
    return path


def _sync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | _CLOEXEC)
    except OSError:
        return  # Windows, or a directory we may not open: the data itself is synced
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; nothing more to do
    finally:
        os.close(fd)


def open_append(path: Path) -> int:
    """A file descriptor appending to ``path``: ``O_APPEND|O_CREAT|O_NOFOLLOW``, created
    0600 (an existing regular file of ours is made 0600 too); missing parents 0700.

    ``UnsafePathError`` when ``path`` is a symbolic link; other ``OSError`` as ``open``.
    Wrap it with ``os.fdopen(fd, "a", ...)``.
    """
    _refuse_symlink(path)
    make_private_dirs(path.parent)
    fd = _open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        _tighten(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_private(path: Path) -> bytes:
    """The bytes of a private file of knoxhook's (a signing key), made 0600 when an older
    knoxhook left it readable by others. ``UnsafePathError`` for a symbolic link."""
    fd = _open_nofollow(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as fh:
        _tighten(fh.fileno())
        return fh.read()


def prepare_sqlite(path: Path) -> Path:
    """Make ``path`` ready for ``sqlite3.connect``: missing parents 0700, the database
    file created 0600 before SQLite opens it (existing ones of ours made 0600), and
    its ``-wal``/``-shm``/``-journal`` side files, when present, refused if symbolic
    links and made 0600. SQLite creates missing side files with the database's mode.

    ``UnsafePathError`` for a symbolic link; other ``OSError`` as ``open``.
    """
    _refuse_symlink(path)
    make_private_dirs(path.parent)
    for target in (path, *(Path(f"{path}{suffix}") for suffix in SQLITE_SIDE_FILES)):
        if target != path and not os.path.lexists(target):
            continue
        fd = _open_nofollow(target, os.O_RDWR | (os.O_CREAT if target == path else 0))
        try:
            _tighten(fd)
        finally:
            os.close(fd)
    return path

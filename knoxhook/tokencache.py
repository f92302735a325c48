"""The on-disk token cache: one OAuth token per (profile, token URL, client id, scope).

``<cache dir>/tokens/<sha256>.json``, the file 0600 and the directory 0700, written
atomically; never the secret. Reading it takes no lock and imports neither authlib nor
keyring, so a command with a cached token starts fast (``knoxhook.tokens`` fetches and
renews under a lock).

The cache trusts nothing it did not write (issue 14: a symlinked ``tokens/`` was
followed and a planted token trusted; ``expires_at: "Infinity"`` crashed ``auth
status``). ``read_cached`` ignores, as if there were no token:

- a cache or tokens directory that is a symbolic link, not a directory, owned by
  another user, or writable by group or others (``files.private_dir_problem``);
- a token file that is a link, not a regular file, someone else's, writable by others,
  larger than any token, not JSON, or whose fields are not what ``write_cached`` writes
  (a printable access token; finite times between 1970 and 9999).

``prepare_dir`` (before the lock and the write) replaces such a directory with a fresh
0700 one: a link is removed (never followed), a directory is moved aside and deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import secrets
import shutil
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from knoxhook.config import Settings
from knoxhook.errors import UsageError
from knoxhook.files import (
    WRITABLE_BY_OTHERS,
    ensure_private_dir,
    private_dir_problem,
    store_private,
)

log = logging.getLogger(__name__)

TOKENS_DIR = "tokens"
MAX_TOKEN_FILE: Final = 64 * 1024  # a token record is ~1 KiB; anything bigger is not ours
MAX_EPOCH: Final = 253402300799.0  # 9999-12-31T23:59:59Z: datetime's limit
MAX_ACCESS_TOKEN: Final = 16 * 1024
_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_at: float  # epoch seconds
    obtained_at: float
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type
    scope: str | None = None

    def expires_in(self, now: float) -> float:
        return self.expires_at - now

    def is_fresh(self, now: float, margin: float) -> bool:
        """Still usable for a while: ``margin`` (at most half its lifetime) before expiry."""
        lifetime = max(self.expires_at - self.obtained_at, 0.0)
        return self.expires_at - min(margin, lifetime / 2) > now


def tokens_dir(settings: Settings) -> Path:
    return settings.cache_dir / TOKENS_DIR


def cache_path(settings: Settings) -> Path:
    key = json.dumps([settings.profile, settings.token_url, settings.client_id, settings.scope])
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return tokens_dir(settings) / f"{digest}.json"


def untrusted_dir(settings: Settings) -> str | None:
    """Why the cache or tokens directory is not to be trusted (None when it is)."""
    for directory in (settings.cache_dir, tokens_dir(settings)):
        problem = private_dir_problem(directory)
        if problem:
            return f"{directory} {problem}"
    return None


def read_cached(settings: Settings, path: Path | None = None) -> Token | None:
    """The cached token (fresh or not); None when missing, unreadable or untrusted.
    ``path``: another token file in the tokens dir (``knoxhook.legacy.cache``)."""
    if untrusted_dir(settings):
        return None
    try:
        fd = os.open(path or cache_path(settings), os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not _our_private_file(st):
            return None
        raw = fh.read(MAX_TOKEN_FILE + 1)
    if len(raw) > MAX_TOKEN_FILE:
        return None
    try:
        return _parse(json.loads(raw, parse_constant=_no_constant))
    except (ValueError, KeyError, TypeError, OverflowError):  # JSON and Unicode errors too
        return None


def _our_private_file(st: os.stat_result) -> bool:
    uid = os.geteuid() if hasattr(os, "geteuid") else st.st_uid
    writable_by_others = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return stat.S_ISREG(st.st_mode) and st.st_uid == uid and not writable_by_others


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number write_cached writes")


def _epoch(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("a time must be a number")
    number = float(value)  # an int too large for a float raises OverflowError
    if not (math.isfinite(number) and 0.0 <= number <= MAX_EPOCH):
        raise ValueError("a time out of range")
    return number


def _text(value: Any, *, limit: int) -> str:
    """A non-empty printable ASCII string (it goes into an HTTP header)."""
    if not isinstance(value, str) or not 0 < len(value) <= limit or not value.isascii():
        raise ValueError("not a token string")
    if not value.isprintable() or any(c.isspace() for c in value):
        raise ValueError("not a token string")
    return value


def _parse(data: Any) -> Token:
    if not isinstance(data, dict):
        raise TypeError("a token record is an object")
    scope = data.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise TypeError("scope is a string")
    return Token(
        access_token=_text(data["access_token"], limit=MAX_ACCESS_TOKEN),
        expires_at=_epoch(data["expires_at"]),
        obtained_at=_epoch(data["obtained_at"]),
        token_type=_text(data.get("token_type") or "Bearer", limit=64),
        scope=scope,
    )


def prepare_dir(settings: Settings) -> Path:
    """The tokens directory, ready to write: 0700, ours, and the cache dir above it too.

    An untrusted one (module docstring) is replaced: a symbolic link is removed, a
    directory is moved aside and deleted, and a fresh one made. Only a cache dir of ours
    that others could write to is kept, made 0700 (it may hold the user's certificates;
    its ``tokens/``, which they could have replaced or filled, is then replaced).
    UsageError naming the directory when it cannot be replaced.
    """
    problem = private_dir_problem(settings.cache_dir)
    if problem and not problem.startswith(WRITABLE_BY_OTHERS):
        _replace(settings.cache_dir, problem)
    ensure_private_dir(settings.cache_dir)  # creates it, or makes one of ours 0700
    tokens = tokens_dir(settings)
    problem = private_dir_problem(tokens) or (
        f"was in a directory {problem}" if problem and tokens.exists() else None
    )
    if problem:
        _replace(tokens, problem)
    return ensure_private_dir(tokens)


def _replace(directory: Path, problem: str) -> None:
    if not (directory.is_symlink() or directory.is_dir()):
        return  # a file: the user's, never deleted (ensure_private_dir says it is one)
    log.warning("not trusting %s (it %s): replacing it", directory, problem)
    try:
        if directory.is_symlink():
            directory.unlink()  # the link itself: its target is never touched
            return
        aside = directory.with_name(f".{directory.name}.untrusted-{secrets.token_hex(4)}")
        directory.rename(aside)
    except FileNotFoundError:
        return  # another knoxhook process replaced it first
    except OSError as exc:
        raise UsageError(
            f"not trusting the token cache directory {directory}: it {problem}, and it "
            f"cannot be replaced ({exc.strerror or exc})",
            hint="remove it, or point KNOXHOOK_CACHE_DIR at a directory of your own",
        ) from exc
    shutil.rmtree(aside, ignore_errors=True)  # rmtree never follows links out of it


def write_cached(settings: Settings, token: Token, path: Path | None = None) -> None:
    path = path or cache_path(settings)
    prepare_dir(settings)
    try:  # a token file it did not write (a link, someone else's) is replaced, not refused
        if not _our_private_file(os.lstat(path)):
            path.unlink()
    except FileNotFoundError:
        pass
    record = asdict(token) | {
        "profile": settings.profile,
        "token_url": settings.token_url,
        "client_id": settings.client_id,
    }
    store_private(path, json.dumps(record, indent=1).encode("utf-8"))

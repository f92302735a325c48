"""Record every callback the receiver gets, one JSON object per line (NDJSON).

Each line is a ``Verdict.to_json()`` (``knoxhook.receiver.verdict``): ``received_at``,
``verdict``, ``status``, ``reason``, ``message``, ``event``, ``subscriptionId``, ``nonce``,
``trace_id``, ``form``, ``certificate_sha256``, ``forward``, ``rotation``, ``source``,
``headers``, ``body_size``, ``body_sha256``, ``body``: the whole body (and
``body_source``) only for a verified callback, else its first 256 bytes
(``body_truncated``).

The file is created 0600 (callbacks may carry device identifiers) and appended to; every
line is written with one ``write`` system call, so a crash loses at most the line being
written and never interleaves two lines. A write that fails (disk full) raises
``OSError``: the receiver then answers 503 rather than 200 for a callback it could not
keep. Past ``max_bytes`` the file is rotated (``FILE.1`` ... ``FILE.<keep>``, the oldest
dropped). The receiver writes a kept callback's line on its event loop when the
record is a regular file (``never_blocks``: a write to the page cache, no fsync), in a
worker thread otherwise (a pipe may block). Refused callbacks are recorded at most
``refusals_per_second`` per source address (a burst of twice that), so forged traffic
cannot fill the disk; the ones skipped are counted in the next refusal recorded from
that source (``suppressed``).
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any, Final

from knoxhook import jsonline
from knoxhook.files import open_append

MAX_BYTES: Final = 256 * 1024 * 1024
KEEP: Final = 5
REFUSALS_PER_SECOND: Final = 10.0
FOLLOW_EVERY: Final = 1.0  # seconds between two checks for another writer's rotation
_SOURCES: Final = 10_000  # rate-limit buckets kept; the oldest are dropped past this


def _open_append(path: Path) -> int:
    """The one place the record file is opened: append-only, 0600 from creation."""
    return open_append(path)  # 0600, O_NOFOLLOW, missing parents 0700


class NdjsonRecorder:
    """Append records to ``path`` (created 0600), one ``write`` per line."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_bytes: int = MAX_BYTES,
        keep: int = KEEP,
        refusals_per_second: float = REFUSALS_PER_SECOND,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        self.rate = refusals_per_second
        self._lock = threading.Lock()
        self._fd: int | None = _open_append(self.path)
        info = os.fstat(self._fd)
        self._size = info.st_size
        self._rotates = stat.S_ISREG(info.st_mode)  # never rename /dev/null or a FIFO
        self._followed = time.monotonic()  # when the path was last checked (_follow)
        self._torn = _ends_torn(self.path)  # a crash cut the last line: do not glue onto it
        self._buckets: dict[str, tuple[float, float, int]] = {}  # tokens, time, skipped

    @property
    def never_blocks(self) -> bool:
        """A regular file takes a line at page-cache speed: the receiver writes it on its
        event loop. A pipe or a device may block: the receiver uses a thread then."""
        return self._rotates

    def record(self, entry: dict[str, Any] | bytes, *, source: str | None = None) -> None:
        """Append ``entry`` (a dict, or a JSON object already encoded: ``Verdict.
        record_line``); with ``source`` (a refusal), only within that source's rate.
        ``OSError`` when the line could not be written."""
        line = entry if isinstance(entry, bytes) else jsonline.dumps(entry)
        with self._lock:
            if source is not None:
                skipped = self._skipped(source)
                if skipped < 0:
                    return
                if skipped:
                    line = jsonline.with_first("suppressed", skipped, line)
            self._write(line + b"\n")

    def _skipped(self, source: str) -> int:
        """-1 to skip this refusal; else how many were skipped before it."""
        now = time.monotonic()
        burst = 2 * self.rate
        tokens, last, skipped = self._buckets.pop(source, (burst, now, 0))
        tokens = min(burst, tokens + (now - last) * self.rate)
        if len(self._buckets) >= _SOURCES:
            del self._buckets[next(iter(self._buckets))]
        if tokens < 1:
            self._buckets[source] = (tokens, now, skipped + 1)
            return -1
        self._buckets[source] = (tokens - 1, now, 0)
        return skipped

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            raise OSError("the record file is closed")
        if self._rotates:
            if time.monotonic() - self._followed >= FOLLOW_EVERY:
                self._follow()
            if self._size > 0 and self._size + len(data) > self.max_bytes:
                self._rotate()
        if self._torn:
            data = b"\n" + data
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._fd, view)
            except OSError:
                if len(view) != len(data):  # part of the line is in the file
                    self._torn = True
                raise
            self._size += written
            view = view[written:]
        self._torn = False

    def _follow(self) -> bool:
        """Catch up with the other processes writing the same file (``--workers``):
        reopen the path when one of them rotated it, and take the file's real size
        (theirs included) for the next rotation. True when it reopened."""
        assert self._fd is not None
        self._followed = time.monotonic()
        mine = os.fstat(self._fd)
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            current = None
        if current is not None and current.st_ino == mine.st_ino:
            self._size = mine.st_size
            return False
        self._reopen()
        return True

    def _reopen(self) -> None:
        """The path opened again: the new descriptor first, then the old one closed, so
        a failed open (a symlink put there, a read-only disk) keeps the old one, and
        the next line tries again."""
        fresh = _open_append(self.path)
        old, self._fd = self._fd, fresh
        if old is not None:
            os.close(old)
        self._size = os.fstat(fresh).st_size
        self._torn = False

    def _rotate(self) -> None:
        """FILE -> FILE.1 -> ... -> FILE.<keep>; a new FILE. Under an exclusive lock on
        the file, after checking that no other process rotated it meanwhile (then this
        one only reopens it): two writers never rotate twice. The lock goes with the
        old descriptor, or is let go when the rotation fails (a rename refused), so
        the other writers never wait for it."""
        locked = self._fd
        assert locked is not None
        fcntl.flock(locked, fcntl.LOCK_EX)
        try:
            if self._follow():  # another process rotated it: this one reopened it
                return
            for n in range(self.keep - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{n}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{n + 1}"))
            if self.keep > 0:
                os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
            else:
                self.path.unlink(missing_ok=True)
            self._reopen()
        finally:
            if self._fd == locked:  # still the locked descriptor: the rotation failed
                fcntl.flock(locked, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _ends_torn(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() == 0:
                return False
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) != b"\n"
    except OSError:  # not seekable (a pipe, /dev/full): nothing to glue onto
        return False


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The records in an NDJSON file (a torn last line, from a crash, is skipped)."""
    records: list[dict[str, Any]] = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records

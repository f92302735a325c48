"""Replay protection: remember the ``x-knox-nonce`` of every verified callback.

Knox sends a unique nonce with each callback since 25.04 [doc]; a receiver must refuse a
nonce it has seen. Entries expire after ``window_seconds`` (a replay older than the
window is no longer detected: pick the window longer than Knox could plausibly retry).

- ``MemoryNonceStore``: a dict; for tests and one-shot tools.
- ``SqliteNonceStore``: durable. ``INSERT`` into a table whose primary key is the nonce,
  so check-and-remember is one atomic statement (two receivers sharing the file cannot
  both accept the same nonce). WAL journal with ``synchronous=NORMAL``: a committed
  nonce survives ``kill -9`` of the process (only a power loss may drop the last ones).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Final

from knoxhook.files import prepare_sqlite

DEFAULT_WINDOW: Final = 7 * 24 * 3600.0  # one week
_PRUNE_EVERY: Final = 1000  # inserts between two expiry sweeps


class MemoryNonceStore:
    """Nonces in a dict (nonce -> expiry); not durable."""

    def __init__(self, window_seconds: float = DEFAULT_WINDOW) -> None:
        self.window = window_seconds
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._inserts = 0

    def check_and_remember(self, nonce: str, now: float | None = None) -> bool:
        """Remember ``nonce``; False when it was seen within the window (a replay)."""
        now = time.time() if now is None else now
        with self._lock:
            expiry = self._seen.get(nonce)
            if expiry is not None and expiry > now:
                return False
            self._seen[nonce] = now + self.window
            self._inserts += 1
            if self._inserts >= max(_PRUNE_EVERY, len(self._seen) // 2):
                self._inserts = 0
                self._seen = {n: e for n, e in self._seen.items() if e > now}
            return True

    def forget(self, nonce: str) -> None:
        """Release ``nonce`` (its callback was not handed on), so a resend is accepted."""
        with self._lock:
            self._seen.pop(nonce, None)

    def __len__(self) -> int:
        return len(self._seen)


class SqliteNonceStore:
    """Nonces in a SQLite file; survives restarts and ``kill -9``."""

    def __init__(self, path: str | Path, window_seconds: float = DEFAULT_WINDOW) -> None:
        self.path = Path(path)
        self.window = window_seconds
        prepare_sqlite(self.path)  # 0600 (and so its -wal/-shm), O_NOFOLLOW, parents 0700
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires REAL NOT NULL)"
        )
        self._lock = threading.Lock()
        self._inserts = 0

    def check_and_remember(self, nonce: str, now: float | None = None) -> bool:
        """Remember ``nonce``; False when it was seen within the window (a replay)."""
        now = time.time() if now is None else now
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO nonces (nonce, expires) VALUES (?, ?)", (nonce, now + self.window)
                )
            except sqlite3.IntegrityError:
                # Seen before: a replay, unless the old entry has expired (then renew it).
                cursor = self._db.execute(
                    "UPDATE nonces SET expires = ? WHERE nonce = ? AND expires <= ?",
                    (now + self.window, nonce, now),
                )
                return cursor.rowcount == 1
            self._inserts += 1
            if self._inserts % _PRUNE_EVERY == 0:
                self._db.execute("DELETE FROM nonces WHERE expires <= ?", (now,))
            return True

    def forget(self, nonce: str) -> None:
        """Release ``nonce`` (its callback was not handed on), so a resend is accepted."""
        with self._lock:
            self._db.execute("DELETE FROM nonces WHERE nonce = ?", (nonce,))

    def __len__(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM nonces").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

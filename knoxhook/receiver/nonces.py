"""Replay protection: two-phase claims on the nonce and the signature of each callback.

Knox sends a unique ``x-knox-nonce`` with each callback since 25.04 [doc]; a receiver
must refuse a nonce it has seen. The nonce is not signed (knox-api.md §5), so anyone who
saw one callback could replay it with a fresh nonce; RSASSA-PKCS1-v1_5 is deterministic,
so the same callback always carries the same signature, and the store remembers a digest
of the verified signature beside the nonce and refuses its reuse too (issue 12.6).

Claims have two phases, as AWS Powertools' idempotency layer does:

1. ``claim(nonce, signature, now, ttl)``: both keys become ``pending`` for ``ttl``
   seconds, atomically, or the claim reports who holds them (``Outcome``);
2. ``finish(claim, now)``: ``done`` for the replay window, once the callback is kept
   (recorded, handed off); or ``release(claim)``: forgotten, because keeping it failed,
   so Knox's resend is accepted.

A pending claim whose owner died expires after its ``ttl``; the SQLite store also drops
the pending claims of processes that no longer exist when it is opened (a restart), so a
resend after a crash is not refused as a replay.

- ``MemoryNonceStore``: a dict; for tests and one-shot tools.
- ``SqliteNonceStore``: durable and safe for several processes on one host: WAL journal,
  a busy timeout, and each batch of claims in one ``BEGIN IMMEDIATE`` transaction.
  ``synchronous=NORMAL``: a committed claim survives ``kill -9`` (only a power loss may
  drop the last ones). Expired entries are pruned by ``prune`` (the receiver calls it on
  a timer, off the request path), which also gives the space back to the file system.
- ``RedisNonceStore`` (``knoxhook.receiver.redis_store``): the same claims in Redis,
  shared by replicas on several hosts (``listen --nonce-store redis://...``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol

from knoxhook.errors import KnoxhookError
from knoxhook.files import prepare_sqlite
from knoxhook.signature.results import NonceStore

DEFAULT_WINDOW: Final = 7 * 24 * 3600.0  # one week
CLAIM_TTL: Final = 60.0  # a pending claim: longer than any hand-off (forward timeout 10 s)
MAX_NONCE_BYTES: Final = 128  # Knox's nonces are 32 hex digits; refuse megabyte "nonces"
_PRUNE_BATCH: Final = 5000
CHECKPOINT_EVERY: Final = 200  # try_batch commits between two checkpoints (~1 MB of WAL)


class Outcome(StrEnum):
    """What a claim found."""

    CLAIMED = "claimed"  # new: ours until finish or release
    IN_PROGRESS = "in_progress"  # another request is keeping this callback right now
    REPLAYED_NONCE = "replayed_nonce"  # the nonce is done (seen within the window)
    REPLAYED_SIGNATURE = "replayed_signature"  # the signature is done, under another nonce


@dataclass(frozen=True)
class Claim:
    outcome: Outcome
    keys: tuple[str, ...] = ()
    owner: str = ""

    @property
    def claimed(self) -> bool:
        return self.outcome is Outcome.CLAIMED


class StoreUnavailableError(KnoxhookError):
    """The replay store cannot answer now (locked too long, disk full, I/O error)."""


class ReplayStore(NonceStore, Protocol):
    """A nonce store with two-phase claims (what the receiver needs)."""

    def claim(self, nonce: str | None, signature: str | None, now: float, ttl: float) -> Claim:
        """Make both keys pending for ``ttl`` s, atomically; or say which one is held."""
        ...

    def finish(self, claim: Claim, now: float) -> None:
        """The claimed callback is kept: remember its keys for the replay window."""
        ...

    def release(self, claim: Claim) -> None:
        """Keeping the claimed callback failed: forget it, so a resend is accepted."""
        ...

    def prune(self, now: float) -> int:
        """Delete expired entries (and give the space back); how many were deleted."""
        ...

    def ping(self) -> None:
        """Raise ``StoreUnavailableError`` unless the store can be used (``/readyz``)."""
        ...

    def close(self) -> None: ...


def keys_for(nonce: str | None, signature: str | None) -> tuple[str, ...]:
    """The store keys of one callback: its nonce and its signature digest."""
    keys = []
    if nonce:
        keys.append("n:" + nonce)
    if signature:
        keys.append("s:" + signature)
    return tuple(keys)


def _conflict(held: dict[str, str], keys: Sequence[str]) -> Outcome:
    """The outcome for keys already held (key -> state); the nonce is reported first."""
    for key in keys:
        state = held.get(key)
        if state == "pending":
            return Outcome.IN_PROGRESS
        if state == "done":
            return Outcome.REPLAYED_NONCE if key.startswith("n:") else Outcome.REPLAYED_SIGNATURE
    raise AssertionError("no conflict")  # pragma: no cover


def _owner() -> str:
    """A claim's owner, unique to one claim: ``pid:random.counter`` (``_alive`` reads the
    pid; the random part, drawn once per process, keeps two hosts' pids apart)."""
    return f"{_OWNER_PREFIX[0]}{next(_OWNER_COUNTER):x}"


def _new_owner_prefix() -> None:
    _OWNER_PREFIX[0] = f"{os.getpid()}:{secrets.token_hex(6)}."


_OWNER_PREFIX: list[str] = [""]
_OWNER_COUNTER = itertools.count()
_new_owner_prefix()
os.register_at_fork(after_in_child=_new_owner_prefix)


def check_and_remember(store: ReplayStore, nonce: str, now: float | None = None) -> bool:
    """The one-phase ``NonceStore`` call (``verify_callback``) on a two-phase store: claim
    and finish at once; False when ``nonce`` is held (a replay)."""
    now = time.time() if now is None else now
    claim = store.claim(nonce, None, now, CLAIM_TTL)
    if claim.claimed:
        store.finish(claim, now)
    return claim.claimed


class MemoryNonceStore:
    """Claims in a dict (key -> (state, expiry, owner)); not durable."""

    def __init__(self, window_seconds: float = DEFAULT_WINDOW) -> None:
        self.window = window_seconds
        self._entries: dict[str, tuple[str, float, str]] = {}
        self._lock = threading.Lock()

    def claim(
        self, nonce: str | None, signature: str | None, now: float, ttl: float = CLAIM_TTL
    ) -> Claim:
        keys = keys_for(nonce, signature)
        owner = _owner()
        with self._lock:
            held = {k: e[0] for k in keys if (e := self._entries.get(k)) and e[1] > now}
            if held:
                return Claim(_conflict(held, keys), keys)
            for key in keys:
                self._entries[key] = ("pending", now + ttl, owner)
        return Claim(Outcome.CLAIMED, keys, owner)

    def finish(self, claim: Claim, now: float) -> None:
        with self._lock:
            for key in claim.keys:
                if self._entries.get(key, ("", 0.0, ""))[2] == claim.owner:
                    self._entries[key] = ("done", now + self.window, claim.owner)

    def release(self, claim: Claim) -> None:
        with self._lock:
            for key in claim.keys:
                entry = self._entries.get(key)
                if entry is not None and entry[0] == "pending" and entry[2] == claim.owner:
                    del self._entries[key]

    def check_and_remember(self, nonce: str, now: float | None = None) -> bool:
        return check_and_remember(self, nonce, now)

    def forget(self, nonce: str) -> None:
        with self._lock:
            self._entries.pop("n:" + nonce, None)

    def prune(self, now: float) -> int:
        with self._lock:
            before = len(self._entries)
            self._entries = {k: e for k, e in self._entries.items() if e[1] > now}
            return before - len(self._entries)

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._entries)


_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, state TEXT NOT NULL,"
    " expires REAL NOT NULL, owner TEXT NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS claims_expires ON claims (expires)",
)


def _create_private(path: Path) -> None:
    """Create the store file 0600 (and its directory 0700) before SQLite opens it."""
    prepare_sqlite(path)  # 0600 (and so its -wal/-shm), O_NOFOLLOW, parents 0700


class SqliteNonceStore:
    """Claims in a SQLite file; survives restarts and ``kill -9``; shared by processes.

    Two connections: one for worker threads (``run_batch`` and the rest: waits up to
    ``busy_timeout`` for another process's transaction), and one for ``try_batch``, the
    receiver's call on its event loop, which never waits: no busy timeout (a held write
    lock makes it give up at once, and the receiver runs the batch in a thread instead)
    and no automatic checkpoint, so a commit there is a WAL append and never an fsync.
    ``checkpoint`` (the receiver's worker thread, every ``CHECKPOINT_EVERY`` commits of
    ``try_batch``) copies the WAL back, on a third connection, beside the writers."""

    def __init__(
        self, path: str | Path, window_seconds: float = DEFAULT_WINDOW, *, busy_timeout: float = 5
    ) -> None:
        self.path = Path(path)
        self.window = window_seconds
        _create_private(self.path)
        self._db = _connect(self.path, busy_timeout)
        self._lock = threading.Lock()
        self._closed = False
        self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # only takes on a new file
        self._db.execute("PRAGMA journal_mode=WAL")
        # Errors here are sqlite3's own (a file that is not a database): the caller's
        # usage error; later ones are StoreUnavailableError (retryable).
        self._db.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA:
            self._db.execute(statement)
        migrated = self._migrate()
        self._db.execute("COMMIT")
        if migrated or self._db.execute("PRAGMA auto_vacuum").fetchone()[0] == 0:
            self._db.execute("VACUUM")  # auto_vacuum takes on an existing file only so
        self._drop_orphans()
        self._loop_db = _connect(self.path, 0)
        self._loop_db.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpoint_db = _connect(self.path, busy_timeout)
        self._checkpoint_lock = threading.Lock()
        self._uncheckpointed = 0

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _migrate(self) -> bool:
        """Keep the nonces of a store written by knoxhook <= 0.1 (table ``nonces``)."""
        old = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'nonces'"
        if not self._db.execute(old).fetchone():
            return False
        self._db.execute(
            "INSERT OR IGNORE INTO claims SELECT 'n:' || nonce, 'done', expires, '' FROM nonces"
        )
        self._db.execute("DROP TABLE nonces")
        return True

    def _drop_orphans(self) -> None:
        """A pending claim of a process that is gone is no replay: forget it."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT owner FROM claims WHERE state = 'pending'"
            ).fetchall()
            dead = [owner for (owner,) in rows if not _alive(owner)]
            for owner in dead:
                self._db.execute(
                    "DELETE FROM claims WHERE state = 'pending' AND owner = ?", (owner,)
                )

    def claim(
        self, nonce: str | None, signature: str | None, now: float, ttl: float = CLAIM_TTL
    ) -> Claim:
        result: Claim = self.run_batch([("claim", (nonce, signature, now, ttl))])[0]
        return result

    def finish(self, claim: Claim, now: float) -> None:
        self.run_batch([("finish", (claim, now))])

    def release(self, claim: Claim) -> None:
        self.run_batch([("release", (claim,))])

    def run_batch(self, calls: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """Group commit: ``claim``/``finish``/``release`` calls (name, arguments) in ONE
        transaction, in order, so one commit serves every callback waiting at that
        moment (``knoxhook.receiver.storecalls``); their results. All or nothing: when
        the transaction fails, every call fails (``StoreUnavailableError``)."""
        with self._lock, self._transaction():
            return _apply(self._db, calls, self.window)

    def try_batch(self, calls: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Any] | None:
        """``run_batch`` without ever waiting (the event loop's call): None, with nothing
        done, when the write lock is held (another process's transaction, our own
        prune): then call ``run_batch`` in a thread."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._closed:
                raise StoreUnavailableError("the replay store is closed")
            db = self._loop_db
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                if isinstance(exc, sqlite3.OperationalError) and _busy(exc):
                    return None
                raise _unavailable(exc) from exc
            try:
                results = _apply(db, calls, self.window)
                db.execute("COMMIT")
            except BaseException as exc:  # any failure: never keep the write lock
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError) and _busy(exc):
                    return None
                if isinstance(exc, sqlite3.Error):
                    raise _unavailable(exc) from exc
                raise
        finally:
            self._lock.release()
        self._uncheckpointed += 1
        return results

    @property
    def checkpoint_due(self) -> bool:
        """Enough ``try_batch`` commits since the last ``checkpoint`` to run one."""
        return self._uncheckpointed >= CHECKPOINT_EVERY

    def checkpoint(self) -> None:
        """Copy the WAL back into the file (PASSIVE: writers go on meanwhile); the fsync
        that ``synchronous=NORMAL`` owes happens here, in the caller's thread."""
        self._uncheckpointed = 0
        with self._checkpoint_lock:
            if self._closed:
                return
            try:
                self._checkpoint_db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:
                raise _unavailable(exc) from exc

    def check_and_remember(self, nonce: str, now: float | None = None) -> bool:
        return check_and_remember(self, nonce, now)

    def forget(self, nonce: str) -> None:
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM claims WHERE key = ?", ("n:" + nonce,))

    def prune(self, now: float) -> int:
        """Delete expired entries in batches, then give the freed pages back."""
        deleted = 0
        while True:
            with self._lock, self._transaction():
                cursor = self._db.execute(
                    "DELETE FROM claims WHERE key IN"
                    " (SELECT key FROM claims WHERE expires <= ? LIMIT ?)",
                    (now, _PRUNE_BATCH),
                )
            deleted += cursor.rowcount
            if cursor.rowcount < _PRUNE_BATCH:
                break
        if deleted:
            self._reclaim()
        return deleted

    def _reclaim(self) -> None:
        """Give freed pages back: shrink the file, then the WAL (outside a transaction)."""
        with self._lock:
            try:
                # executescript steps the pragma to the end; execute() frees one page
                self._db.executescript("PRAGMA incremental_vacuum;")
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.Error as exc:
                raise _unavailable(exc) from exc

    def ping(self) -> None:
        with self._lock, self._transaction():
            self._db.execute("SELECT 1 FROM claims LIMIT 1").fetchall()

    def close(self) -> None:
        with self._lock, self._checkpoint_lock:
            if not self._closed:
                self._closed = True
                for db in (self._loop_db, self._checkpoint_db, self._db):
                    db.close()

    def __len__(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM claims WHERE key LIKE 'n:%'").fetchone()
        return int(row[0])


def _connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout)
    db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds the lock (SQLITE_BUSY / SQLITE_LOCKED)."""
    return getattr(exc, "sqlite_errorcode", None) in (5, 6) or "locked" in str(exc)


def _unavailable(exc: sqlite3.Error) -> StoreUnavailableError:
    return StoreUnavailableError(f"the replay store is unavailable: {exc}")


# The steps of one transaction, run by kind: consecutive calls of one kind (the usual
# batch: N claims, or N finishes) become one statement each, not N.


def _apply(
    db: sqlite3.Connection, calls: Sequence[tuple[str, tuple[Any, ...]]], window: float
) -> list[Any]:
    results: list[Any] = []
    start = 0
    while start < len(calls):
        name = calls[start][0]
        end = start + 1
        while end < len(calls) and calls[end][0] == name:
            end += 1
        run = [args for _, args in calls[start:end]]
        if name == "claim":
            results += _claims(db, run)
        elif name == "finish":
            db.executemany(
                _FINISH,
                [(now + window, key, claim.owner) for claim, now in run for key in claim.keys],
            )
            results += [None] * len(run)
        elif name == "release":
            db.executemany(_RELEASE, [(key, claim.owner) for (claim,) in run for key in claim.keys])
            results += [None] * len(run)
        else:
            raise ValueError(f"not a store call: {name!r}")
        start = end
    return results


_FINISH: Final = "UPDATE claims SET state = 'done', expires = ? WHERE key = ? AND owner = ?"
_RELEASE: Final = "DELETE FROM claims WHERE key = ? AND owner = ? AND state = 'pending'"
_INSERT: Final = (
    "INSERT OR REPLACE INTO claims (key, state, expires, owner) VALUES (?, 'pending', ?, ?)"
)
_LOOKUP_CHUNK: Final = 500  # keys per SELECT (SQLite's limit on parameters is higher)


def _claims(db: sqlite3.Connection, run: list[tuple[Any, ...]]) -> list[Claim]:
    """Claims in order, with one lookup for all their keys: a claim sees those made
    before it in the same run, as it would one transaction earlier."""
    wanted = []
    for args in run:
        nonce, signature, now, ttl = (*args, CLAIM_TTL)[:4]
        wanted.append((keys_for(nonce, signature), now, ttl))
    every = list({key for keys, _, _ in wanted for key in keys})
    held: dict[str, tuple[str, float]] = {}
    for at in range(0, len(every), _LOOKUP_CHUNK):
        chunk = every[at : at + _LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = db.execute(
            f"SELECT key, state, expires FROM claims WHERE key IN ({marks})",  # noqa: S608
            chunk,
        ).fetchall()
        held.update((key, (state, expires)) for key, state, expires in rows)
    results: list[Claim] = []
    inserts: list[tuple[str, float, str]] = []
    for keys, now, ttl in wanted:
        if not keys:
            results.append(Claim(Outcome.CLAIMED))
            continue
        busy = {key: entry[0] for key in keys if (entry := held.get(key)) and entry[1] > now}
        if busy:
            results.append(Claim(_conflict(busy, keys), keys))
            continue
        owner = _owner()
        for key in keys:
            held[key] = ("pending", now + ttl)
            inserts.append((key, now + ttl, owner))
        results.append(Claim(Outcome.CLAIMED, keys, owner))
    db.executemany(_INSERT, inserts)
    return results


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error); errors become
    ``StoreUnavailableError`` so the receiver answers a retryable 503."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _unavailable(exc) from exc

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        try:
            self._db.execute("COMMIT" if exc is None else "ROLLBACK")
        except sqlite3.Error as error:
            if exc is None:
                raise _unavailable(error) from error
        if isinstance(exc, sqlite3.Error):
            raise _unavailable(exc) from exc


def _alive(owner: str) -> bool:
    """Is the process that made ``owner`` (``pid:random``) still running on this host?"""
    try:
        pid = int(owner.split(":", 1)[0])
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

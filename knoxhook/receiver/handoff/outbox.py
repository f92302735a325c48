"""The durable outbox of ``listen --forward-to`` (issue 13.2): a SQLite file, one row per
verified callback, written (and fsynced) before Knox gets its 200.

Rows (table ``outbox``), each keyed by the callback's nonce (``key``, UNIQUE: a resend
that is accepted again, e.g. after its claim expired, is not queued twice):

- ``pending``: to deliver; ``next_at`` is when, ``attempts`` how many were made; a
  delivery loop *leases* a row (``lease_owner``, ``lease_until``) while it posts it, so
  several processes on one file (``--workers``, two ``listen`` on one host) never post
  the same row at once; a lease whose process died is taken back at open, one whose
  process hangs when it runs out;
- ``dead``: a dead letter (``dead_reason``): the app refused it (4xx) or the retry
  budget ran out; ``knoxhook callbacks retry`` makes it ``pending`` again;
- ``delivered``: the app took it; the body is dropped, the key kept for the nonce window
  so a late resend is still recognised (``prune``).

``synchronous=FULL`` in WAL mode: every commit is fsynced, so a queued callback survives
``kill -9`` and a power loss. The file is 0600 (callbacks may carry device identifiers).
One file per replica (or per host); it is not shared over a network file system.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from knoxhook.files import prepare_sqlite
from knoxhook.receiver.nonces import StoreUnavailableError
from knoxhook.receiver.nonces import _alive as _alive  # one "is that pid alive" check

DEFAULT_FILE: Final = "outbox.sqlite3"  # in the cache dir, beside nonces.sqlite3
STATES: Final = ("pending", "dead", "delivered")
_COLUMNS: Final = (
    "id, key, nonce, event, subscription_id, received_at, queued, state, attempts,"
    " next_at, last_status, last_error, dead_reason, done_at, headers, body"
)
_NAMES: Final = tuple(name.strip() for name in _COLUMNS.split(","))
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " key TEXT NOT NULL UNIQUE, nonce TEXT, event TEXT, subscription_id TEXT,"
    " received_at TEXT NOT NULL, queued REAL NOT NULL, state TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL,"
    " lease_owner TEXT, lease_until REAL NOT NULL DEFAULT 0, last_status INTEGER,"
    " last_error TEXT, dead_reason TEXT, done_at REAL, headers TEXT NOT NULL, body BLOB)",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at)",
)


@dataclass(frozen=True)
class Parcel:
    """One verified callback to hand off: the bytes kept and the headers to send."""

    key: str  # the nonce (or the signature digest when there is none)
    nonce: str | None
    event: str | None
    subscription_id: str | None
    received_at: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Row:
    id: int
    key: str
    nonce: str | None
    event: str | None
    subscription_id: str | None
    received_at: str
    queued: float
    state: str
    attempts: int
    next_at: float
    last_status: int | None
    last_error: str | None
    dead_reason: str | None
    done_at: float | None
    headers: dict[str, str]
    body: bytes | None

    def summary(self) -> dict[str, Any]:
        """The row without its body (``callbacks list``); keys stable."""
        return {
            "id": self.id,
            "state": self.state,
            "nonce": self.nonce,
            "event": self.event,
            "subscriptionId": self.subscription_id,
            "received_at": self.received_at,
            "attempts": self.attempts,
            "next_at": self.next_at if self.state == "pending" else None,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "dead_reason": self.dead_reason,
        }


@dataclass(frozen=True)
class Stats:
    pending: int
    oldest_age: float  # seconds since the oldest pending row was queued (0 when none)
    dead: int


def _row(values: tuple[Any, ...]) -> Row:
    fields = dict(zip(_NAMES, values, strict=True))
    fields["headers"] = json.loads(fields["headers"])
    return Row(**fields)


# what an attempt's outcome sets (settle_many); the values, in order, are its arguments
_SETTLE: Final = {
    "delivered": (
        "state = 'delivered', body = NULL, done_at = ?, last_status = ?, last_error = NULL"
    ),
    "retry": "next_at = ?, last_status = ?, last_error = ?",
    "dead": "state = 'dead', dead_reason = ?, done_at = ?, last_status = ?, last_error = ?",
}


class Outbox:
    """The outbox file; every method is one short transaction (thread-safe)."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        prepare_sqlite(self.path)  # 0600, parents 0700, no symbolic links
        self._lock = threading.Lock()
        self._closed = False
        self._connect()
        with self._tx() as db:
            for statement in _SCHEMA:
                db.execute(statement)
        self._take_back_orphans()

    def _connect(self) -> None:
        """A connection and a lease owner of this process. Again after a fork
        (``--workers``): a SQLite connection must not cross one, and each process
        leases rows in its own name."""
        self._pid = os.getpid()
        self.owner = f"{self._pid}:{secrets.token_hex(6)}"
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=self.busy_timeout
        )
        self._db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._synchronous = ""

    @contextmanager
    def _tx(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction; SQLite errors become
        ``StoreUnavailableError`` (the receiver answers a retryable 503).

        ``durable``: fsync the commit (``synchronous=FULL``; in WAL mode that also syncs
        every commit before it). Only a queued callback needs it: losing the mark of a
        delivery attempt to a power loss means one more delivery, which at-least-once
        allows, and its fsync (~5 ms on this machine's disk) would be spent per attempt."""
        with self._lock:
            if os.getpid() != self._pid:
                self._connect()
            try:
                wanted = "FULL" if durable else "NORMAL"
                if self._synchronous != wanted:
                    self._db.execute(f"PRAGMA synchronous={wanted}")
                    self._synchronous = wanted
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                why = f"the outbox {self.path} is unavailable: {exc}"
                raise StoreUnavailableError(why) from exc

    def _take_back_orphans(self) -> None:
        """Leases of processes that are gone (``kill -9``): deliverable again now."""
        with self._tx() as db:
            owners = db.execute(
                "SELECT DISTINCT lease_owner FROM outbox WHERE lease_owner IS NOT NULL"
            ).fetchall()
            for (owner,) in owners:
                if not _alive(owner):
                    db.execute(
                        "UPDATE outbox SET lease_owner = NULL, lease_until = 0"
                        " WHERE lease_owner = ?",
                        (owner,),
                    )

    # --- the receiver ------------------------------------------------------------------

    def put(self, parcel: Parcel, now: float) -> tuple[int, bool]:
        """Queue ``parcel`` (committed and fsynced on return): (row id, was it already
        there). A key already queued or delivered is not queued again."""
        return self.put_many([parcel], now)[0]

    def put_many(self, parcels: Sequence[Parcel], now: float) -> list[tuple[int, bool]]:
        """``put`` for several, in one fsynced transaction (group commit)."""
        results = []
        with self._tx(durable=True) as db:
            for parcel in parcels:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO outbox (key, nonce, event, subscription_id,"
                    " received_at, queued, state, next_at, headers, body)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                    (
                        parcel.key, parcel.nonce, parcel.event, parcel.subscription_id,
                        parcel.received_at, now, now, json.dumps(parcel.headers), parcel.body,
                    ),
                )  # fmt: skip
                if cursor.rowcount == 1:
                    results.append((int(cursor.lastrowid or 0), False))
                    continue
                (row_id,) = db.execute(
                    "SELECT id FROM outbox WHERE key = ?", (parcel.key,)
                ).fetchone()
                results.append((int(row_id), True))
        return results

    # --- the delivery loop -------------------------------------------------------------

    def lease(self, now: float, limit: int, seconds: float) -> list[Row]:
        """Up to ``limit`` due pending rows, leased to this process for ``seconds``."""
        with self._tx() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE state = 'pending' AND next_at <= ?"  # noqa: S608
                " AND lease_until <= ? ORDER BY next_at, id LIMIT ?",
                (now, now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ?",
                [(self.owner, now + seconds, values[0]) for values in rows],
            )
        return [_row(values) for values in rows]

    def delivered(self, row_id: int, now: float, status: int) -> None:
        self.settle_many([("delivered", row_id, (now, status))])

    def retry_later(self, row_id: int, at: float, status: int | None, error: str | None) -> None:
        self.settle_many([("retry", row_id, (at, status, error))])

    def dead(
        self, row_id: int, now: float, reason: str, status: int | None, error: str | None
    ) -> None:
        self.settle_many([("dead", row_id, (reason, now, status, error))])

    def settle_many(self, attempts: Sequence[tuple[str, int, tuple[object, ...]]]) -> None:
        """Attempts that are over, in one transaction (the delivery loop's batch): each
        (outcome, row id, its values as ``delivered``/``retry_later``/``dead`` take them)
        recorded, and our lease dropped (only where it is still ours)."""
        with self._tx() as db:
            for outcome, row_id, values in attempts:
                db.execute(
                    f"UPDATE outbox SET {_SETTLE[outcome]}, attempts = attempts + 1,"  # noqa: S608
                    " lease_owner = NULL, lease_until = 0 WHERE id = ? AND lease_owner = ?",
                    (*values, row_id, self.owner),
                )

    def release_leases(self) -> None:
        """On shutdown: our unfinished rows are deliverable again at once, by anyone."""
        with self._tx() as db:
            db.execute(
                "UPDATE outbox SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?",
                (self.owner,),
            )

    def next_due(self) -> float | None:
        """When the earliest pending row is due (None when none is pending)."""
        with self._tx() as db:
            (at,) = db.execute(
                "SELECT min(max(next_at, lease_until)) FROM outbox WHERE state = 'pending'"
            ).fetchone()
        return None if at is None else float(at)

    def stats(self, now: float) -> Stats:
        with self._tx() as db:
            pending, oldest = db.execute(
                "SELECT count(*), min(queued) FROM outbox WHERE state = 'pending'"
            ).fetchone()
            (dead,) = db.execute("SELECT count(*) FROM outbox WHERE state = 'dead'").fetchone()
        return Stats(int(pending), max(0.0, now - oldest) if oldest else 0.0, int(dead))

    def prune(self, before: float) -> int:
        """Forget delivered rows older than ``before`` (past the nonce window)."""
        with self._tx() as db:
            cursor = db.execute(
                "DELETE FROM outbox WHERE state = 'delivered' AND done_at < ?", (before,)
            )
        return cursor.rowcount

    # --- knoxhook callbacks ------------------------------------------------------------

    def rows(self, states: Iterable[str] = ("pending", "dead")) -> list[Row]:
        wanted = tuple(states)
        marks = ",".join("?" * len(wanted))
        with self._tx() as db:
            found = db.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE state IN ({marks}) ORDER BY id",  # noqa: S608
                wanted,
            ).fetchall()
        return [_row(values) for values in found]

    def get(self, row_id: int) -> Row | None:
        with self._tx() as db:
            found = db.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE id = ?",  # noqa: S608
                (row_id,),
            ).fetchone()
        return None if found is None else _row(found)

    def requeue(self, ids: Iterable[int] | None, now: float) -> int:
        """Dead (or pending) rows ``ids`` (None: every dead row) due now, with a fresh
        retry budget; how many."""
        sql = (
            "UPDATE outbox SET state = 'pending', next_at = ?, attempts = 0, dead_reason = NULL,"
            " done_at = NULL, lease_owner = NULL, lease_until = 0 WHERE "
        )
        with self._tx() as db:
            if ids is None:
                cursor = db.execute(sql + "state = 'dead'", (now,))
            else:
                cursor = db.executemany(
                    sql + "id = ? AND state IN ('dead', 'pending')", [(now, i) for i in ids]
                )
        return cursor.rowcount

    def take(self, ids: Iterable[int], now: float, seconds: float) -> list[Row]:
        """Dead or pending rows ``ids`` that nobody is posting, leased to this process
        for ``seconds`` (``callbacks retry --to``: posted from there, so a running
        listen does not post them meanwhile); settled with ``delivered``/``dead``/
        ``retry_later`` as the delivery loop's are. The rows leased elsewhere are left."""
        taken = []
        with self._tx() as db:
            for row_id in ids:
                found = db.execute(
                    f"SELECT {_COLUMNS} FROM outbox WHERE id = ?"  # noqa: S608
                    " AND state IN ('dead', 'pending') AND lease_until <= ?",
                    (row_id, now),
                ).fetchone()
                if found is not None:
                    db.execute(
                        "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ?",
                        (self.owner, now + seconds, row_id),
                    )
                    taken.append(_row(found))
        return taken

    def drop(self, ids: Iterable[int] | None) -> int:
        """Delete dead (or pending) rows ``ids`` (None: every dead row); how many."""
        with self._tx() as db:
            if ids is None:
                cursor = db.execute("DELETE FROM outbox WHERE state = 'dead'")
            else:
                cursor = db.executemany(
                    "DELETE FROM outbox WHERE id = ? AND state IN ('dead', 'pending')",
                    [(i,) for i in ids],
                )
        return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

"""The emulator's state: subscriptions, access tokens; thread-safe.

One SQLite database (stdlib ``sqlite3``): in memory, or ``emulator.db`` in the data dir
so state survives a restart. Every operation runs under one lock in one transaction.
The Knox rule "an event belongs to at most one subscription" (knox-api.md §3) is a
PRIMARY KEY on ``event_owner.event``, checked and written in the same transaction as
the subscription, so it holds under any concurrency.

All of the emulator's clients act for ONE customer [assume]: Knox scopes subscriptions
per customer, and the emulator plays a single customer.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from knoxhook import wire
from knoxhook.files import make_private_dirs, prepare_sqlite
from knoxhook.timestamps import rfc3339

DB_FILE = "emulator.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriptions (
    id TEXT PRIMARY KEY, url TEXT NOT NULL, events TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS event_owner (
    event TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, scope TEXT NOT NULL,
    expires_at REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
"""


class EventConflict(Exception):
    """An event is already held by another subscription."""

    def __init__(self, event: str, holder: str) -> None:
        super().__init__(f"{event} is held by {holder}")
        self.event = event
        self.holder = holder


class UnknownSubscription(Exception):
    """No subscription has this id."""


class Store:
    """Subscriptions and tokens. ``now`` is the clock (epoch seconds)."""

    def __init__(self, now: Callable[[], float], directory: Path | None = None) -> None:
        self._now = now
        self._lock = threading.Lock()
        if directory is not None:
            make_private_dirs(directory, tighten=True)
            target = str(prepare_sqlite(directory / DB_FILE))  # 0600, and so its -wal/-shm
        else:
            target = ":memory:"
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys = ON")
        if directory is not None:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def reset(self) -> None:
        """Forget every subscription and token."""
        with self._tx() as db:
            db.execute("DELETE FROM event_owner")
            db.execute("DELETE FROM subscriptions")
            db.execute("DELETE FROM tokens")

    # --- tokens -----------------------------------------------------------------------
    def issue_token(self, client_id: str, scope: str, lifetime: int) -> str:
        token = secrets.token_urlsafe(32)
        with self._tx() as db:
            db.execute("DELETE FROM tokens WHERE expires_at < ?", (self._now() - 3600,))
            db.execute(
                "INSERT INTO tokens (token, client_id, scope, expires_at) VALUES (?, ?, ?, ?)",
                (token, client_id, scope, self._now() + lifetime),
            )
        return token

    def token_valid(self, token: str) -> bool:
        with self._tx() as db:
            row = db.execute(
                "SELECT expires_at, revoked FROM tokens WHERE token = ?", (token,)
            ).fetchone()
        return row is not None and not row[1] and row[0] > self._now()

    def revoke_token(self, token: str) -> bool:
        with self._tx() as db:
            cur = db.execute("UPDATE tokens SET revoked = 1 WHERE token = ?", (token,))
        return cur.rowcount > 0

    # --- subscriptions ----------------------------------------------------------------
    @staticmethod
    def _row(row: tuple[Any, ...]) -> dict[str, Any]:
        return {
            wire.F_SUBSCRIPTION_ID: row[0],
            wire.F_URL: row[1],
            wire.F_EVENTS: json.loads(row[2]),
            wire.F_CREATED_AT: row[3],
            wire.F_UPDATED_AT: row[4],
        }

    @staticmethod
    def _claim(db: sqlite3.Connection, subscription_id: str, events: list[str]) -> None:
        """Give ``events`` to ``subscription_id``; EventConflict if another holds one."""
        for event in events:
            row = db.execute(
                "SELECT subscription_id FROM event_owner WHERE event = ?", (event,)
            ).fetchone()
            if row is not None and row[0] != subscription_id:
                raise EventConflict(event, row[0])
        db.execute("DELETE FROM event_owner WHERE subscription_id = ?", (subscription_id,))
        db.executemany(
            "INSERT INTO event_owner (event, subscription_id) VALUES (?, ?)",
            [(event, subscription_id) for event in events],
        )

    def create(self, url: str, events: list[str]) -> dict[str, Any]:
        sub_id = secrets.token_hex(12)  # 24 lowercase hex chars, like Knox's examples
        stamp = rfc3339(self._now(), milliseconds=True)
        with self._tx() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM subscriptions").fetchone()
            db.execute(
                "INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?, ?)",
                (sub_id, url, json.dumps(events), stamp, stamp, seq[0]),
            )
            self._claim(db, sub_id, events)
            return self._get(db, sub_id)

    def update(self, sub_id: str, url: str | None, events: list[str] | None) -> dict[str, Any]:
        with self._tx() as db:
            current = self._get(db, sub_id)
            new_url = current[wire.F_URL] if url is None else url
            new_events = current[wire.F_EVENTS] if events is None else events
            if events is not None:
                self._claim(db, sub_id, new_events)
            db.execute(
                "UPDATE subscriptions SET url = ?, events = ?, updated_at = ? WHERE id = ?",
                (new_url, json.dumps(new_events), rfc3339(self._now(), milliseconds=True), sub_id),
            )
            return self._get(db, sub_id)

    def delete(self, sub_id: str) -> None:
        with self._tx() as db:
            cur = db.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,))
            if cur.rowcount == 0:
                raise UnknownSubscription(sub_id)

    def get(self, sub_id: str) -> dict[str, Any]:
        with self._tx() as db:
            return self._get(db, sub_id)

    def _get(self, db: sqlite3.Connection, sub_id: str) -> dict[str, Any]:
        row = db.execute(
            "SELECT id, url, events, created_at, updated_at FROM subscriptions WHERE id = ?",
            (sub_id,),
        ).fetchone()
        if row is None:
            raise UnknownSubscription(sub_id)
        return self._row(row)

    def all(self) -> list[dict[str, Any]]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, url, events, created_at, updated_at FROM subscriptions ORDER BY seq"
            ).fetchall()
        return [self._row(row) for row in rows]

    def holder(self, event: str) -> dict[str, Any] | None:
        """The subscription holding ``event``, or None."""
        with self._tx() as db:
            row = db.execute(
                "SELECT subscription_id FROM event_owner WHERE event = ?", (event,)
            ).fetchone()
            return None if row is None else self._get(db, row[0])

    def invariant_violations(self) -> list[str]:
        """Events listed by two subscriptions, or out of step with ``event_owner``
        (both read in one transaction, so the check is exact under concurrency)."""
        with self._tx() as db:
            rows = db.execute("SELECT id, events FROM subscriptions").fetchall()
            table = dict(db.execute("SELECT event, subscription_id FROM event_owner").fetchall())
        problems: list[str] = []
        owners: dict[str, str] = {}
        for sub_id, listed in rows:
            for event in json.loads(listed):
                if event in owners:
                    problems.append(f"{event} in {owners[event]} and {sub_id}")
                owners[event] = sub_id
        if table != owners:
            problems.append("event_owner table disagrees with the subscriptions")
        return problems

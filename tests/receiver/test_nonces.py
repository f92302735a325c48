"""Nonce stores: replay detection, expiry, durability, atomicity across connections."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from knoxhook.receiver.nonces import MemoryNonceStore, SqliteNonceStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> MemoryNonceStore | SqliteNonceStore:
    if request.param == "memory":
        return MemoryNonceStore(window_seconds=60)
    return SqliteNonceStore(tmp_path / "n.sqlite3", window_seconds=60)


def test_first_sight_is_accepted_and_second_is_a_replay(
    store: MemoryNonceStore | SqliteNonceStore,
) -> None:
    assert store.check_and_remember("a", 1000.0) is True
    assert store.check_and_remember("a", 1001.0) is False
    assert store.check_and_remember("b", 1001.0) is True
    assert len(store) == 2


def test_entries_expire_after_the_window(store: MemoryNonceStore | SqliteNonceStore) -> None:
    assert store.check_and_remember("a", 1000.0)
    assert not store.check_and_remember("a", 1059.0)
    assert store.check_and_remember("a", 1061.0)  # older than the window: forgotten
    assert not store.check_and_remember("a", 1062.0)  # and remembered again


def test_sqlite_store_survives_reopening_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "nonces.sqlite3"
    first = SqliteNonceStore(path)
    assert first.check_and_remember("n1", 5.0)
    first.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = SqliteNonceStore(path)
    assert second.check_and_remember("n1", 6.0) is False
    assert second.check_and_remember("n2", 6.0) is True


def _claim(path: str, nonces: list[str], out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = SqliteNonceStore(path)
    out.put([n for n in nonces if store.check_and_remember(n, 10.0)])


def test_two_processes_never_both_accept_the_same_nonce(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    SqliteNonceStore(path).close()
    nonces = [f"n{i}" for i in range(300)]
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(path, nonces, out)) for _ in range(2)]
    for p in procs:
        p.start()
    claimed = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sorted(claimed[0] + claimed[1]) == sorted(nonces)  # each exactly once

"""Nonce stores: replay detection, expiry, durability, atomicity across connections."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import sqlite3
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from knoxhook.receiver.nonces import (
    Claim,
    MemoryNonceStore,
    Outcome,
    SqliteNonceStore,
    StoreUnavailableError,
)


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


# --- two-phase claims (issue 13.1) -------------------------------------------------------


def test_a_pending_claim_is_in_progress_then_done_is_a_replay(
    store: MemoryNonceStore | SqliteNonceStore,
) -> None:
    claim = store.claim("n1", "sig1", 1000.0, 30.0)
    assert claim.outcome is Outcome.CLAIMED
    assert store.claim("n1", "sig1", 1001.0, 30.0).outcome is Outcome.IN_PROGRESS
    store.finish(claim, 1002.0)
    assert store.claim("n1", "sig1", 1003.0, 30.0).outcome is Outcome.REPLAYED_NONCE
    # the same signature under a fresh nonce: a replay too (RSASSA-PKCS1-v1_5 is
    # deterministic, so a genuine new callback never repeats a signature)
    assert store.claim("fresh", "sig1", 1003.0, 30.0).outcome is Outcome.REPLAYED_SIGNATURE
    assert store.claim("fresh", "sig2", 1003.0, 30.0).outcome is Outcome.CLAIMED


def test_a_released_claim_lets_the_resend_in(store: MemoryNonceStore | SqliteNonceStore) -> None:
    claim = store.claim("n1", "sig1", 1000.0, 30.0)
    store.release(claim)
    again = store.claim("n1", "sig1", 1001.0, 30.0)
    assert again.outcome is Outcome.CLAIMED
    store.release(claim)  # a stale release (another owner) does not free the new claim
    assert store.claim("n1", "sig1", 1002.0, 30.0).outcome is Outcome.IN_PROGRESS


def test_an_orphaned_pending_claim_expires_after_its_ttl(
    store: MemoryNonceStore | SqliteNonceStore,
) -> None:
    store.claim("n1", "sig1", 1000.0, 30.0)  # its owner never finishes nor releases
    assert store.claim("n1", "sig1", 1029.0, 30.0).outcome is Outcome.IN_PROGRESS
    assert store.claim("n1", "sig1", 1031.0, 30.0).outcome is Outcome.CLAIMED


def test_a_claim_of_both_keys_is_all_or_nothing(store: MemoryNonceStore | SqliteNonceStore) -> None:
    done = store.claim("n1", "sig1", 1000.0, 30.0)
    store.finish(done, 1000.0)
    assert store.claim("n2", "sig1", 1001.0, 30.0).outcome is Outcome.REPLAYED_SIGNATURE
    # n2 was not left claimed by the refused attempt
    assert store.claim("n2", "sig2", 1001.0, 30.0).outcome is Outcome.CLAIMED


def _claim_and_die(path: str) -> None:
    store = SqliteNonceStore(path)
    store.claim("pending-at-crash", "sig-crash", time.time(), 3600.0)
    os._exit(0)  # like kill -9: no release, no close


def test_after_a_restart_a_pending_claim_of_a_dead_process_is_no_replay(tmp_path: Path) -> None:
    path = str(tmp_path / "n.sqlite3")
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_claim_and_die, args=(path,))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 0
    # before the restart sweep, the claim is pending (this process sees it held)
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT state FROM claims").fetchall() == [("pending",), ("pending",)]
    raw.close()
    restarted = SqliteNonceStore(path)
    claim = restarted.claim("pending-at-crash", "sig-crash", time.time(), 30.0)
    assert claim.outcome is Outcome.CLAIMED


def test_prune_deletes_expired_entries_and_gives_the_space_back(tmp_path: Path) -> None:
    path = tmp_path / "n.sqlite3"
    store = SqliteNonceStore(path, window_seconds=10)
    for i in range(6000):
        claim = store.claim(f"nonce-{i:05d}-" + "x" * 60, f"{i:064x}", 1000.0, 30.0)
        store.finish(claim, 1000.0)
    store.prune(1000.0)  # nothing expired yet
    assert len(store) == 6000
    big = path.stat().st_size
    assert store.prune(2000.0) == 12000  # both keys of each
    assert len(store) == 0
    assert path.stat().st_size < big / 4
    assert (tmp_path / "n.sqlite3-wal").stat().st_size == 0  # the WAL was truncated too


def test_a_store_from_knoxhook_0_1_keeps_its_nonces(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE nonces (nonce TEXT PRIMARY KEY, expires REAL NOT NULL)")
    old.execute("INSERT INTO nonces VALUES ('seen-before', 5000.0)")
    old.commit()
    old.close()
    store = SqliteNonceStore(path)
    assert store.claim("seen-before", None, 1000.0, 30.0).outcome is Outcome.REPLAYED_NONCE
    assert store.claim("seen-before", None, 6000.0, 30.0).outcome is Outcome.CLAIMED


def test_a_store_locked_too_long_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "n.sqlite3"
    store = SqliteNonceStore(path, busy_timeout=0.2)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(StoreUnavailableError, match="unavailable: database is locked"):
            store.claim("n1", None, 1000.0, 30.0)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.claim("n1", None, 1000.0, 30.0).outcome is Outcome.CLAIMED


def _replica(path: str, work: list[tuple[str, str]], out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """One receiver process: claim, 'keep' (1 in 10 fails and is released), finish."""
    store = SqliteNonceStore(path)
    kept, busy, errors = [], 0, []
    for i, (nonce, signature) in enumerate(work):
        try:
            claim = store.claim(nonce, signature, time.time(), 30.0)
            if not claim.claimed:
                busy += claim.outcome is Outcome.IN_PROGRESS
                continue
            if i % 10 == 0:
                store.release(claim)  # the record failed: Knox will resend
                continue
            store.finish(claim, time.time())
            kept.append((nonce, signature))
        except StoreUnavailableError as exc:
            errors.append(str(exc))
    out.put((kept, busy, errors))


def test_two_processes_with_a_replay_mix_never_keep_a_callback_twice(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    SqliteNonceStore(path).close()
    rng = random.Random(7)
    callbacks = [(f"n{i}", f"{i:064x}") for i in range(600)]
    # each process gets every callback (a replay of what the other may have kept), some
    # twice, and 5% under a fresh nonce with a known signature (a replay by new nonce)
    plans = []
    for _ in range(2):
        plan = callbacks + rng.sample(callbacks, 60)
        plan += [(f"fresh-{rng.random()}", sig) for _, sig in rng.sample(callbacks, 30)]
        rng.shuffle(plan)
        plans.append(plan)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_replica, args=(path, plan, out)) for plan in plans]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    kept = results[0][0] + results[1][0]
    assert [r[2] for r in results] == [[], []]  # no "database is locked"
    nonces = [n for n, _ in kept]
    signatures = [s for _, s in kept]
    assert len(nonces) == len(set(nonces))  # 0 double accepts
    assert len(signatures) == len(set(signatures))  # no replay under a new nonce either
    assert len(kept) >= 600 * 0.8  # the released ones may stay unkept; no more


# --- group commit (receiver.storecalls) -------------------------------------------------


def test_concurrent_claims_share_transactions_and_each_is_durable_when_answered(
    tmp_path: Path,
) -> None:
    from knoxhook.receiver.storecalls import StoreCalls

    store = SqliteNonceStore(tmp_path / "n.sqlite3")
    batches: list[int] = []
    try_batch = store.try_batch

    def counting(calls: Any) -> Any:
        batches.append(len(calls))
        return try_batch(calls)

    store.try_batch = counting  # type: ignore[method-assign]
    calls = StoreCalls(store)
    other = sqlite3.connect(tmp_path / "n.sqlite3")  # another process's view
    seen_on_disk: list[bool] = []

    async def one(nonce: str) -> Claim:
        claim: Claim = await calls.run(store.claim, nonce, "sig-" + nonce, time.time(), 60)
        row = other.execute("SELECT state FROM claims WHERE key = ?", ("n:" + nonce,))
        seen_on_disk.append(row.fetchone() is not None)
        if claim.claimed:
            await calls.run(store.finish, claim, time.time())
        return claim

    async def load() -> list[Claim]:
        return await asyncio.gather(*(one(f"n{i % 40}") for i in range(50)))

    claims = asyncio.run(load())
    outcomes = [c.outcome for c in claims]
    assert outcomes.count(Outcome.CLAIMED) == 40  # 10 nonces came twice
    assert set(outcomes[40:]) <= {Outcome.IN_PROGRESS, Outcome.REPLAYED_NONCE}
    assert all(seen_on_disk)  # committed before its caller resumed
    assert sum(batches) == 50 + 40  # every claim and finish ran, once
    assert len(batches) < 20  # ... in a few transactions, not 90
    assert not store.check_and_remember("n3")  # finished: a replay now
    other.close()
    store.close()


def test_a_failed_group_transaction_fails_every_call_in_it(tmp_path: Path) -> None:
    from knoxhook.receiver.storecalls import StoreCalls

    store = SqliteNonceStore(tmp_path / "n.sqlite3", busy_timeout=0.2)
    calls = StoreCalls(store)
    locker = sqlite3.connect(tmp_path / "n.sqlite3", isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock

    async def one(i: int) -> object:
        try:
            return await calls.run(store.claim, f"x{i}", None, time.time(), 60)
        except StoreUnavailableError as exc:
            return exc

    async def load() -> list[object]:
        return await asyncio.gather(*(one(i) for i in range(5)))

    results = asyncio.run(load())
    locker.execute("ROLLBACK")
    assert all(isinstance(r, StoreUnavailableError) for r in results)
    assert "the replay store is unavailable" in str(results[0])
    assert store.claim("x1", None, time.time(), 60).claimed  # nothing was kept
    locker.close()
    store.close()


def test_claims_in_one_batch_see_each_other_in_order(tmp_path: Path) -> None:
    """Consecutive claims run as one lookup and one insert; each still sees the claims
    made before it in the batch, and a finish between two claims is seen too."""
    store = SqliteNonceStore(tmp_path / "n.sqlite3")
    first, same_nonce, same_sig, other = store.run_batch(
        [
            ("claim", ("n1", "s1", 1000.0, 30.0)),
            ("claim", ("n1", "s2", 1000.0, 30.0)),  # the nonce is pending: in progress
            ("claim", ("n2", "s1", 1000.0, 30.0)),  # the signature is pending
            ("claim", ("n3", "s3", 1000.0, 30.0)),
        ]
    )
    assert [c.outcome for c in (first, same_nonce, same_sig, other)] == [
        Outcome.CLAIMED,
        Outcome.IN_PROGRESS,
        Outcome.IN_PROGRESS,
        Outcome.CLAIMED,
    ]
    assert first.owner != other.owner  # one owner per claim
    _, replay, late = store.run_batch(
        [
            ("finish", (first, 1001.0)),
            ("claim", ("n1", "s9", 1002.0, 30.0)),
            ("claim", ("n9", "s1", 1002.0, 30.0)),
        ]
    )
    assert (replay.outcome, late.outcome) == (Outcome.REPLAYED_NONCE, Outcome.REPLAYED_SIGNATURE)
    store.release(other)
    assert store.claim("n3", "s3", 1003.0, 30.0).claimed  # released: the resend is in
    store.close()


def _watch_thread_batches(store: SqliteNonceStore) -> list[int]:
    """The thread ids of the ``run_batch`` calls (the worker-thread path) from now on."""
    threads: list[int] = []
    run_batch = store.run_batch

    def in_thread(batch: Any) -> Any:
        threads.append(threading.get_ident())
        return run_batch(batch)

    store.run_batch = in_thread  # type: ignore[method-assign]
    return threads


def test_the_event_loop_call_never_waits_for_a_lock_and_falls_back_to_a_thread(
    tmp_path: Path,
) -> None:
    """``try_batch`` gives up at once (nothing done) when another process holds the
    write lock; ``StoreCalls`` then runs the batch in a worker thread, which waits for
    the lock (busy timeout) and succeeds once it is free."""
    from knoxhook.receiver.storecalls import StoreCalls

    path = tmp_path / "n.sqlite3"
    store = SqliteNonceStore(path, busy_timeout=5)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    began = time.monotonic()
    assert store.try_batch([("claim", ("n1", None, 1000.0, 30.0))]) is None
    assert time.monotonic() - began < 0.5  # no busy wait on the loop
    calls = StoreCalls(store)
    threads = _watch_thread_batches(store)

    async def claim_while_locked() -> Claim:
        asyncio.get_running_loop().call_later(0.3, locker.execute, "ROLLBACK")
        result: Claim = await calls.run(store.claim, "n1", None, 1000.0, 30.0)
        return result

    claim = asyncio.run(claim_while_locked())
    assert claim.claimed
    assert threads
    assert threads[0] != threading.get_ident()  # a worker thread waited
    assert store.try_batch([("claim", ("n1", None, 1000.0, 30.0))]) == [
        Claim(Outcome.IN_PROGRESS, ("n:n1",))
    ]  # unlocked: the loop's call works, and sees the thread's claim
    locker.close()
    store.close()


def test_a_lock_held_briefly_by_another_process_is_waited_for_on_the_loop(
    tmp_path: Path,
) -> None:
    """Another process's commit takes a millisecond or so: the loop tries again after a
    short pause (serving others meanwhile) rather than handing the batch to a thread."""
    from knoxhook.receiver.storecalls import StoreCalls

    path = tmp_path / "n.sqlite3"
    store = SqliteNonceStore(path)
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    calls = StoreCalls(store)
    threads = _watch_thread_batches(store)

    async def claim_while_briefly_locked() -> Claim:
        locker.execute("BEGIN IMMEDIATE")
        asyncio.get_running_loop().call_later(0.002, locker.execute, "ROLLBACK")
        result: Claim = await calls.run(store.claim, "n1", None, 1000.0, 30.0)
        return result

    assert asyncio.run(claim_while_briefly_locked()).claimed
    assert threads == []  # done on the loop, after the lock was let go
    locker.close()
    store.close()


def test_checkpoints_run_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop's commits never checkpoint (no fsync there); every CHECKPOINT_EVERY of
    them, StoreCalls runs ``checkpoint`` in a worker thread, and the WAL is copied back."""
    from knoxhook.receiver import nonces
    from knoxhook.receiver.storecalls import StoreCalls

    monkeypatch.setattr(nonces, "CHECKPOINT_EVERY", 5)
    store = SqliteNonceStore(tmp_path / "n.sqlite3")
    calls = StoreCalls(store)
    ran_in: list[int] = []
    checkpoint = store.checkpoint

    def watched() -> None:
        ran_in.append(threading.get_ident())
        checkpoint()

    store.checkpoint = watched  # type: ignore[method-assign]

    async def load() -> None:
        for i in range(12):  # one batch each: 12 commits on the loop
            claim = await calls.run(store.claim, f"n{i}", None, time.time(), 30.0)
            await calls.run(store.finish, claim, time.time())
        await calls.aclose()

    asyncio.run(load())
    assert ran_in
    assert threading.get_ident() not in ran_in
    # the database file alone (without its WAL) holds what the checkpoints copied back
    alone = tmp_path / "alone.sqlite3"
    alone.write_bytes((tmp_path / "n.sqlite3").read_bytes())
    other = sqlite3.connect(alone)
    (copied,) = other.execute("SELECT count(*) FROM claims WHERE state = 'done'").fetchone()
    other.close()
    # the first checkpoint starts after 5 commits (claims 1-3, finishes 1-2): at least 2
    # done rows; without checkpoints the file alone holds none
    assert copied >= 2
    store.close()


def test_a_failure_that_is_not_sqlite_s_in_a_loop_batch_never_keeps_the_write_lock(
    tmp_path: Path,
) -> None:
    """Whatever fails inside ``try_batch`` (here a nonce SQLite cannot bind: a lone
    surrogate), the transaction is rolled back: the next batch works, and another
    process is not locked out."""
    path = tmp_path / "n.sqlite3"
    store = SqliteNonceStore(path)
    with pytest.raises(UnicodeEncodeError):
        store.try_batch([("claim", ("bad-\udc80", None, 1000.0, 30.0))])
    assert store.try_batch([("claim", ("n1", None, 1000.0, 30.0))]) is not None
    other = SqliteNonceStore(path, busy_timeout=0.5)
    assert other.claim("n2", None, 1000.0, 30.0).claimed  # not "database is locked"
    other.close()
    store.close()
    with pytest.raises(StoreUnavailableError, match="the replay store is closed"):
        store.try_batch([("claim", ("n3", None, 1000.0, 30.0))])

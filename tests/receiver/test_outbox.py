"""The outbox file (receiver.handoff.outbox) and the delivery policy (backoff, judging)."""

from __future__ import annotations

import random
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from knoxhook.receiver.forwarder import Attempt
from knoxhook.receiver.handoff.delivery import DeliveryPolicy
from knoxhook.receiver.handoff.outbox import Outbox, Parcel


def parcel(key: str, body: bytes = b'{"a":1}') -> Parcel:
    return Parcel(key, key, "KDMS_DEVICE_UPLOAD", "sub-1", "2026-01-01T00:00:00.000Z", body, {
        "Content-Type": "application/json", "Idempotency-Key": key,
    })  # fmt: skip


def test_put_is_durable_private_and_deduplicated_by_key(tmp_path: Path) -> None:
    path = tmp_path / "state" / "outbox.sqlite3"
    box = Outbox(path)
    first = box.put(parcel("n-1"), 100.0)
    again = box.put(parcel("n-1", b"other"), 101.0)
    box.close()
    assert first == (1, False)
    assert again == (1, True)  # a resend accepted again is not queued twice
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    reopened = Outbox(path)
    (row,) = reopened.rows()
    assert (row.key, row.body, row.state, row.attempts) == ("n-1", b'{"a":1}', "pending", 0)
    assert row.headers["Idempotency-Key"] == "n-1"
    reopened.close()


def test_two_processes_never_lease_the_same_row(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    one, two = Outbox(path), Outbox(path)
    for i in range(10):
        one.put(parcel(f"k{i}"), 1.0)
    a = one.lease(2.0, 6, 30)
    b = two.lease(2.0, 6, 30)
    assert len(a) == 6
    assert len(b) == 4
    assert not {r.id for r in a} & {r.id for r in b}
    assert one.lease(2.0, 6, 30) == []  # all leased
    assert len(two.lease(40.0, 10, 30)) == 10  # expired leases are taken over
    one.close()
    two.close()


def test_a_dead_process_lease_is_taken_back_at_open(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    code = (
        "import sys, time\nfrom knoxhook.receiver.handoff.outbox import Outbox, Parcel\n"
        f"box = Outbox({str(path)!r})\n"
        "box.put(Parcel('k', 'k', None, None, 't', b'x', {}), time.time())\n"
        "print(len(box.lease(time.time(), 5, 3600)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "1"  # leased for an hour by a process now gone
    box = Outbox(path)
    import time

    (row,) = box.lease(time.time(), 5, 30)
    assert row.key == "k"
    box.close()


def test_settle_delivered_retry_dead_then_requeue_and_drop(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    for key in ("a", "b", "c"):
        box.put(parcel(key), 1.0)
    a, b, c = box.lease(1.0, 3, 30)
    box.delivered(a.id, 2.0, 200)
    box.retry_later(b.id, 50.0, 503, None)
    box.dead(c.id, 2.0, "app_refused", 422, None)
    assert box.get(a.id).state == "delivered"  # type: ignore[union-attr]
    assert box.get(a.id).body is None  # type: ignore[union-attr]
    assert box.put(parcel("a"), 3.0) == (a.id, True)  # a delivered key is still known
    assert [r.key for r in box.lease(10.0, 5, 30)] == []  # b is not due until 50
    assert box.next_due() == 50.0
    stats = box.stats(11.0)
    assert (stats.pending, stats.oldest_age, stats.dead) == (1, 10.0, 1)
    dead = box.get(c.id)
    assert dead is not None
    assert (dead.state, dead.dead_reason, dead.last_status, dead.attempts) == (
        "dead", "app_refused", 422, 1,
    )  # fmt: skip
    assert box.requeue(None, 12.0) == 1
    requeued = box.get(c.id)
    assert requeued is not None
    assert (requeued.state, requeued.attempts, requeued.next_at) == ("pending", 0, 12.0)
    assert box.drop([b.id, c.id]) == 2
    assert box.rows() == []
    assert box.prune(3.0) == 1  # the delivered key, past its window
    box.close()


def test_a_settle_by_a_process_whose_lease_was_taken_over_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    slow, other = Outbox(path), Outbox(path)
    slow.put(parcel("k"), 1.0)
    (row,) = slow.lease(1.0, 1, 5)
    (taken,) = other.lease(10.0, 1, 5)  # slow's lease ran out
    slow.dead(row.id, 11.0, "app_refused", 400, None)
    assert other.get(row.id).state == "pending"  # type: ignore[union-attr]
    other.delivered(taken.id, 12.0, 200)
    assert other.get(row.id).state == "delivered"  # type: ignore[union-attr]
    slow.close()
    other.close()


def test_backoff_is_full_jitter_capped_and_honours_retry_after() -> None:
    policy = DeliveryPolicy(base_delay=1.0, max_delay=30.0, rng=random.Random(7))
    waits = [policy.backoff(n, None) for n in range(1, 12) for _ in range(50)]
    assert all(0 <= w <= 30.0 for w in waits)
    fourth = [policy.backoff(4, None) for _ in range(500)]
    assert max(fourth) <= 8.0
    assert min(fourth) < 1.0  # full jitter: anywhere from 0
    assert max(policy.backoff(40, None) for _ in range(200)) > 20  # reaches the cap
    assert policy.backoff(1, 12.0) == 12.0  # the app's Retry-After wins
    assert policy.backoff(1, 3600.0) == 30.0  # ... up to the cap


@pytest.mark.parametrize(
    ("status", "attempts", "expected"),
    [
        (200, 1, ("delivered", None)),
        (204, 3, ("delivered", None)),
        (503, 1, ("retry", None)),
        (None, 2, ("retry", None)),
        (429, 1, ("retry", None)),
        (408, 1, ("retry", None)),
        (503, 3, ("dead_lettered", "retries_exhausted")),
        (422, 1, ("dead_lettered", "app_refused")),
        (404, 1, ("dead_lettered", "app_refused")),
        (302, 1, ("dead_lettered", "app_refused")),
    ],
)
def test_judge(status: int | None, attempts: int, expected: tuple[str, str | None]) -> None:
    policy = DeliveryPolicy(max_attempts=3)
    assert policy.judge(Attempt("http://x", status), attempts) == expected


def test_after_a_fork_the_child_leases_in_its_own_name(tmp_path: Path) -> None:
    import os

    box = Outbox(tmp_path / "o.sqlite3")
    box.put(parcel("a"), 1.0)
    box.put(parcel("b"), 1.0)
    (mine,) = box.lease(2.0, 1, 3600)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a --workers process inheriting the outbox
        try:
            rows = box.lease(2.0, 5, 3600)
            os.write(write, f"{[r.key for r in rows]}|{box.owner}".encode())
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    keys, owner = os.read(read, 1000).decode().split("|")
    assert keys == "['b']"  # not the parent's leased row
    assert owner.split(":")[0] == str(pid)
    assert owner != box.owner
    box.delivered(mine.id, 3.0, 200)  # the parent's own connection still works
    assert box.get(mine.id).state == "delivered"  # type: ignore[union-attr]
    box.close()


class CountingOutbox(Outbox):
    """An outbox that counts its commits of queued callbacks."""

    commits = 0

    def put_many(self, parcels, now):  # type: ignore[no-untyped-def]
        self.commits += 1
        return super().put_many(parcels, now)


def test_concurrent_callbacks_share_fsynced_commits(tmp_path: Path) -> None:
    import asyncio

    from knoxhook.receiver.forwarder import Forwarder
    from knoxhook.receiver.handoff.delivery import OutboxHandoff

    box = CountingOutbox(tmp_path / "o.sqlite3")
    handoff = OutboxHandoff(box, Forwarder("http://127.0.0.1:9/unused"))

    async def burst() -> list[dict[str, object]]:
        return await asyncio.gather(*(handoff.keep(parcel(f"g{i}")) for i in range(50)))

    kept = asyncio.run(burst())  # without open(): no delivery task, only queuing
    assert sorted(k["id"] for k in kept) == list(range(1, 51))  # type: ignore[type-var]
    assert {k["duplicate"] for k in kept} == {False}
    assert 1 <= box.commits < 50  # several callbacks per fsync
    assert len(box.rows()) == 50
    box.close()


class SettleCountingOutbox(Outbox):
    """An outbox that counts the transactions recording delivery attempts."""

    settles: list[int]

    def settle_many(self, attempts):  # type: ignore[no-untyped-def]
        self.settles.append(len(attempts))
        return super().settle_many(attempts)


def test_a_batch_of_deliveries_is_recorded_in_one_transaction(tmp_path: Path) -> None:
    """The delivery loop posts a leased batch concurrently and records all its attempts
    in one transaction (one worker-thread hop), then reports each, only once recorded."""
    import asyncio

    from knoxhook.receiver.forwarder import Forwarder
    from knoxhook.receiver.handoff.delivery import OutboxHandoff
    from tests.receiver.handoff_app import App

    box = SettleCountingOutbox(tmp_path / "o.sqlite3")
    box.settles = []
    events: list[dict[str, object]] = []
    with App() as app:
        app.delay = 0.3  # every post in flight at once: their answers come back together
        handoff = OutboxHandoff(box, Forwarder(app.url))

        def report(event: dict[str, object]) -> None:
            assert box.get(int(event["id"])).state == "delivered"  # type: ignore[arg-type,union-attr]
            events.append(event)

        async def run() -> None:
            for i in range(12):  # queued before the delivery task starts: one lease
                await handoff.keep(parcel(f"b{i}"))
            await handoff.open(report)
            deadline = asyncio.get_running_loop().time() + 20
            while len(events) < 12 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            await handoff.close()

        asyncio.run(run())
        assert app.wait_for({f"b{i}" for i in range(12)}, 5) == set()
    assert sorted(str(e["nonce"]) for e in events) == sorted(f"b{i}" for i in range(12))
    assert {e["outcome"] for e in events} == {"delivered"}
    assert sum(box.settles) == 12
    assert len(box.settles) < 12  # posts that end together share a transaction


def test_a_slow_post_holds_back_neither_the_others_records_nor_their_reports(
    tmp_path: Path,
) -> None:
    """Attempts are recorded as their posts end, not when the whole leased batch has:
    while one post hangs, the others are already delivered in the outbox (a drain
    that gives up on the slow one loses none of them to a second delivery)."""
    import asyncio

    from knoxhook.receiver.forwarder import Forwarder
    from knoxhook.receiver.handoff.delivery import OutboxHandoff
    from tests.receiver.handoff_app import App

    box = Outbox(tmp_path / "o.sqlite3")
    events: list[str] = []
    with App() as app:
        app.slow = {"s2": 3.0}
        handoff = OutboxHandoff(box, Forwarder(app.url))

        async def run() -> list[str]:
            for key in ("s1", "s2", "s3"):
                await handoff.keep(parcel(key))
            await handoff.open(lambda event: events.append(str(event["nonce"])))
            for _ in range(100):  # bounded: 5 s
                if len(events) == 2:
                    break
                await asyncio.sleep(0.05)
            states = [box.get(i).state for i in (1, 2, 3)]  # type: ignore[union-attr]
            await handoff.close()
            return states

        states = asyncio.run(run())
    assert sorted(events[:2]) == ["s1", "s3"]  # reported while s2 was still posting
    assert states == ["delivered", "pending", "delivered"]

"""``OutboxHandoff``: queue in the outbox before the 200, deliver to the app after.

``keep`` commits the callback to the ``Outbox`` and wakes the delivery task, which runs
in the receiver's lifespan. The task leases due rows (a batch of up to ``batch``, posted
concurrently) and settles each attempt (``DeliveryPolicy.judge``):

- 2xx: delivered;
- 408, 425, 429, 5xx, no answer (connection refused, timeout): retried after
  ``backoff`` (exponential with full jitter, capped; a ``Retry-After`` from the app is
  waited for instead, up to the cap), until ``max_attempts`` attempts, then a dead
  letter (``retries_exhausted``);
- any other status (a 4xx: the app refused a genuine, verified callback; a 3xx:
  redirects are not followed): a dead letter at once (``app_refused``), since a resend
  would get the same answer. Fix the app, then ``knoxhook callbacks retry``.

On shutdown (SIGTERM) the task stops leasing and gets ``drain_seconds`` to finish the
posts in flight; rows still leased are released, and every undelivered row is delivered
by the next start (or by another process on the same file). After ``kill -9`` the next
start takes the dead process's leases back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from asyncio import FIRST_COMPLETED
from dataclasses import dataclass, field
from typing import Any, Final

from knoxhook.receiver.forwarder import Attempt, Forwarder
from knoxhook.receiver.handoff import HandoffFailed, Report
from knoxhook.receiver.handoff.outbox import Outbox, Parcel, Row, Stats
from knoxhook.receiver.nonces import DEFAULT_WINDOW, StoreUnavailableError
from knoxhook.receiver.verdict import ReceiverReason

log = logging.getLogger("knoxhook.receiver")
RETRIED_STATUSES: Final = frozenset({408, 425, 429})
IDLE_POLL: Final = 1.0  # seconds: how often an idle task looks for rows requeued elsewhere
PRUNE_EVERY: Final = 3600.0


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 10
    base_delay: float = 1.0  # before the 2nd attempt, at most (full jitter)
    max_delay: float = 600.0
    batch: int = 16
    drain_seconds: float = 10.0
    keep_delivered: float = DEFAULT_WINDOW  # a delivered key is remembered this long
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, attempts: int, retry_after: float | None) -> float:
        """Seconds to wait after ``attempts`` failed attempts: full jitter (AWS's
        "exponential backoff and jitter"), or the app's ``Retry-After``; both capped."""
        if retry_after is not None:
            return min(self.max_delay, retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2 ** min(attempts - 1, 32))
        return self.rng.uniform(0, ceiling)

    def judge(self, attempt: Attempt, attempts: int) -> tuple[str, str | None]:
        """("delivered" | "retry" | "dead_lettered", dead reason) after attempt number
        ``attempts`` (1-based)."""
        status = attempt.status
        if status is not None and 200 <= status < 300:
            return "delivered", None
        if status is not None and status < 500 and status not in RETRIED_STATUSES:
            return "dead_lettered", "app_refused"
        if attempts >= self.max_attempts:
            return "dead_lettered", "retries_exhausted"
        return "retry", None


Settled = tuple[str, int, tuple[Any, ...]]  # an attempt, as Outbox.settle_many takes it


def _succeeded(task: asyncio.Task[Any]) -> bool:
    """A post that ended with an attempt to record (a bug in it is logged, not lost)."""
    if task.cancelled():
        return False
    if task.exception() is not None:
        log.error("a delivery failed unexpectedly", exc_info=task.exception())
        return False
    return True


class OutboxHandoff:
    """The outbox mode (see the module docstring); owns ``outbox`` and ``forwarder``."""

    mode = "outbox"

    def __init__(
        self, outbox: Outbox, forwarder: Forwarder, policy: DeliveryPolicy | None = None
    ) -> None:
        self.outbox = outbox
        self.forwarder = forwarder
        self.policy = policy or DeliveryPolicy()
        self._report: Report = lambda event: None
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._queued: list[tuple[Parcel, asyncio.Future[tuple[int, bool]]]] = []
        self._committer: asyncio.Task[None] | None = None

    async def open(self, report: Report) -> None:
        self._report = report
        self._wake = asyncio.Event()  # bound to the running loop
        self._stopping = False
        await self.forwarder.open()
        self._task = asyncio.create_task(self._run())

    async def keep(self, parcel: Parcel) -> dict[str, Any]:
        """Queue ``parcel``; returns once its row is committed and fsynced. Callbacks
        arriving while a commit runs share the next one (group commit: one fsync for
        all of them, instead of one each)."""
        waiter: asyncio.Future[tuple[int, bool]] = asyncio.get_running_loop().create_future()
        self._queued.append((parcel, waiter))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit())
        try:
            row_id, duplicate = await waiter
        except StoreUnavailableError as exc:
            raise HandoffFailed(ReceiverReason.OUTBOX_FAILED, f"{exc.message}; retry") from exc
        self._wake.set()
        return {"mode": self.mode, "url": self.forwarder.url, "id": row_id, "duplicate": duplicate}

    async def _commit(self) -> None:
        while self._queued:
            batch, self._queued = self._queued, []
            try:
                ids = await asyncio.to_thread(
                    self.outbox.put_many, [parcel for parcel, _ in batch], time.time()
                )
            except Exception as exc:  # StoreUnavailableError; anything else must not hang
                for _, waiter in batch:
                    if not waiter.done():  # a request cancelled meanwhile (client gone)
                        waiter.set_exception(exc)
                continue
            for (_, waiter), result in zip(batch, ids, strict=True):
                if not waiter.done():
                    waiter.set_result(result)

    async def stats(self) -> Stats | None:
        return await asyncio.to_thread(self.outbox.stats, time.time())

    async def close(self) -> None:
        """Stop leasing; give the posts in flight ``drain_seconds``; release the rest."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.policy.drain_seconds)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        try:
            self.outbox.release_leases()
        except StoreUnavailableError as exc:
            log.warning("%s", exc.message)
        await self.forwarder.close()
        self.outbox.close()

    # --- the delivery task -------------------------------------------------------------

    async def _run(self) -> None:
        pruned = 0.0
        while not self._stopping:
            try:
                now = time.time()
                if now - pruned > PRUNE_EVERY:
                    pruned = now
                    await asyncio.to_thread(self.outbox.prune, now - self.policy.keep_delivered)
                rows = await asyncio.to_thread(
                    self.outbox.lease, now, self.policy.batch, self.forwarder.timeout + 30
                )
            except StoreUnavailableError as exc:
                log.warning("%s", exc.message)
                rows = []
            if not rows:
                await self._idle()
                continue
            pending = {asyncio.create_task(self._deliver(row)) for row in rows}
            self._in_flight.update(pending)
            while pending:  # record the posts as they end: a slow one holds no other back
                ended, pending = await asyncio.wait(pending, return_when=FIRST_COMPLETED)
                self._in_flight.difference_update(ended)
                await self._settle([task.result() for task in ended if _succeeded(task)])

    async def _settle(self, attempts: list[tuple[Settled, dict[str, Any]]]) -> None:
        """The attempts that ended together recorded in one transaction (one worker-
        thread hop for them all, not one per callback), then reported."""
        if not attempts:
            return
        try:
            await asyncio.to_thread(self.outbox.settle_many, [settle for settle, _ in attempts])
        except StoreUnavailableError as exc:  # the leases run out; they are tried again
            log.warning("%s", exc.message)
            return
        for _, event in attempts:
            self._report(event)

    async def _idle(self) -> None:
        """Sleep until woken (a new row), the next retry is due, or ``IDLE_POLL``."""
        self._wake.clear()
        try:
            due = await asyncio.to_thread(self.outbox.next_due)
        except StoreUnavailableError:
            due = None
        wait = IDLE_POLL if due is None else min(IDLE_POLL, max(0.0, due - time.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait)

    async def _deliver(self, row: Row) -> tuple[Settled, dict[str, Any]]:
        """Post ``row`` once: what to record of the attempt (``Outbox.settle_many``) and
        the event to report once it is recorded."""
        assert row.body is not None
        attempt = await self.forwarder.post(row.body, row.headers)
        attempts = row.attempts + 1
        outcome, reason = self.policy.judge(attempt, attempts)
        now = time.time()
        event: dict[str, Any] = {
            "kind": "delivery",
            "outcome": outcome,
            "id": row.id,
            "nonce": row.nonce,
            "event": row.event,
            "attempts": attempts,
            "status": attempt.status,
            "error": attempt.error,
            "reason": reason,
        }
        if outcome == "delivered":
            return ("delivered", row.id, (now, attempt.status or 0)), event
        if outcome == "retry":
            wait = self.policy.backoff(attempts, attempt.retry_after)
            event["retry_in"] = round(wait, 3)
            return ("retry", row.id, (now + wait, attempt.status, attempt.error)), event
        assert reason is not None
        return ("dead", row.id, (reason, now, attempt.status, attempt.error)), event

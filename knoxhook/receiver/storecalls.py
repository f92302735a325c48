"""How the receiver calls its replay store from the event loop, cheaply.

Each callback makes two store calls (a claim, then finish or release) before it is
answered. Run one by one, a SQLite store costs a transaction each and a hop to a worker
thread each; measured under load, the hop (and the two threads' fight for the GIL) cost
more than the SQL. ``StoreCalls``:

- **group commit** for a store with ``run_batch``: the calls waiting at one moment run in
  ONE transaction (a Redis pipeline: one round trip); while it runs, the next calls
  queue, and go together in the next one. Each caller resumes only after the
  transaction holding its call committed, so "claimed before answered" and "finished
  before 200" hold exactly as with one transaction per call; when a transaction fails,
  every call in it fails (``StoreUnavailableError``: 503, retryable). A batch is at most
  ``MAX_BATCH`` calls. How a batch runs:
  - ``SqliteNonceStore``: on the event loop (``try_batch``: a WAL append, never a wait
    for a lock nor an fsync); while another process holds the lock, tried again after
    ``LOOP_PAUSE``, doubling (the loop serves other requests meanwhile), and after
    ``LOOP_TRIES`` in a worker thread that waits for it; its checkpoints (the fsync) run in a worker
    thread every ``CHECKPOINT_EVERY`` commits;
  - ``RedisNonceStore``: ``run_batch_async``, on the event loop's own connection;
  - any other store with ``run_batch``: in a worker thread;
- **no hop** for the in-memory store (a dict under a lock: microseconds);
- a worker thread (``asyncio.to_thread``) for anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Final

from knoxhook.receiver.nonces import MemoryNonceStore, StoreUnavailableError

MAX_BATCH: Final = 256
LOOP_TRIES: Final = 6  # tries on the loop while another process holds the lock, then a thread
LOOP_PAUSE: Final = 0.0005  # s before the 2nd, doubling (15.5 ms in all; others served meanwhile)
BATCHED: Final = frozenset({"claim", "finish", "release"})
log = logging.getLogger("knoxhook.receiver")


class StoreCalls:
    """``await calls.run(store.claim, ...)`` in place of ``asyncio.to_thread(...)``."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._run_async = getattr(store, "run_batch_async", None)
        self._try = getattr(store, "try_batch", None)
        self._batches = self._run_async is not None or callable(getattr(store, "run_batch", None))
        self._direct = isinstance(store, MemoryNonceStore)
        self._queue: list[tuple[str, tuple[Any, ...], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._checkpoint: asyncio.Task[None] | None = None

    async def run(self, method: Callable[..., Any], *args: Any) -> Any:
        if getattr(method, "__self__", None) is self.store:
            if self._direct:
                return method(*args)
            name = getattr(method, "__name__", "")
            if self._batches and name in BATCHED:
                return await self._batched(name, args)
        return await asyncio.to_thread(method, *args)

    async def aclose(self) -> None:
        """Wait for a checkpoint in flight; close the store's loop-side connection."""
        if self._checkpoint is not None:
            with contextlib.suppress(Exception):
                await self._checkpoint
        closing = getattr(self.store, "aclose", None)
        if closing is not None:
            with contextlib.suppress(Exception):
                await closing()

    async def _batched(self, name: str, args: tuple[Any, ...]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((name, args, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _run_batch(self, calls: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        if self._run_async is not None:
            results: list[Any] = await self._run_async(calls)
            return results
        if self._try is not None:
            for attempt in range(LOOP_TRIES):
                done = self._try(calls)
                if done is not None:
                    if self.store.checkpoint_due and (
                        self._checkpoint is None or self._checkpoint.done()
                    ):
                        self._checkpoint = asyncio.create_task(self._checkpoint_now())
                    return list(done)
                if attempt < LOOP_TRIES - 1:  # another process's commit: it is short
                    await asyncio.sleep(LOOP_PAUSE * 2**attempt)
        results = await asyncio.to_thread(self.store.run_batch, calls)
        return results

    async def _checkpoint_now(self) -> None:
        try:
            await asyncio.to_thread(self.store.checkpoint)
        except StoreUnavailableError as exc:  # the next one tries again
            log.warning("checkpointing the replay store failed: %s", exc.message)

    async def _flush(self) -> None:
        """Run what is queued, one transaction at a time, until nothing is."""
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            calls = [(name, args) for name, args, _ in batch]
            try:
                results = await self._run_batch(calls)
            except asyncio.CancelledError:  # shutting down: nobody waits forever
                why = StoreUnavailableError("the receiver is stopping")
                for _, _, future in batch + self._queue:
                    if not future.done():
                        future.set_exception(why)
                raise
            except Exception as exc:  # the transaction failed: every call in it did
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):  # that call alone failed
                    future.set_exception(result)
                else:
                    future.set_result(result)

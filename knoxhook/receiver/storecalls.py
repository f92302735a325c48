"""How the receiver calls its replay store from the event loop, cheaply.

Each callback makes two store calls (a claim, then finish or release) before it is
answered. Run one by one, a SQLite store costs a transaction each (~80 us of CPU here)
and a hop to a worker thread each (tens of us, more on a busy machine). ``StoreCalls``:

- **group commit** for a store with ``run_batch`` (``SqliteNonceStore``; and
  ``RedisNonceStore``, one pipeline: one round trip for the batch): the calls
  waiting at one moment run in ONE transaction in one worker-thread hop; while it runs,
  the next calls queue, and go together in the next one. Each caller resumes only after
  the transaction holding its call committed, so "claimed before answered" and
  "finished before 200" hold exactly as with one transaction per call; when a
  transaction fails, every call in it fails (``StoreUnavailableError``: 503, retryable).
  A batch is at most ``MAX_BATCH`` calls.
- **no hop** for the in-memory store (a dict under a lock: microseconds);
- a worker thread (``asyncio.to_thread``) for anything else (Redis, other methods).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

from knoxhook.receiver.nonces import MemoryNonceStore, StoreUnavailableError

MAX_BATCH: Final = 256
BATCHED: Final = frozenset({"claim", "finish", "release"})


class StoreCalls:
    """``await calls.run(store.claim, ...)`` in place of ``asyncio.to_thread(...)``."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._batches = callable(getattr(store, "run_batch", None))
        self._direct = isinstance(store, MemoryNonceStore)
        self._queue: list[tuple[str, tuple[Any, ...], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def run(self, method: Callable[..., Any], *args: Any) -> Any:
        if getattr(method, "__self__", None) is self.store:
            if self._direct:
                return method(*args)
            name = getattr(method, "__name__", "")
            if self._batches and name in BATCHED:
                return await self._batched(name, args)
        return await asyncio.to_thread(method, *args)

    async def _batched(self, name: str, args: tuple[Any, ...]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((name, args, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        """Run what is queued, one transaction at a time, until nothing is."""
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            calls = [(name, args) for name, args, _ in batch]
            try:
                results = await asyncio.to_thread(self.store.run_batch, calls)
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

"""Handing a verified, claimed callback on to the application (issue 13.2).

``CallbackReceiver`` keeps each callback with one ``Handoff`` before Knox gets its 200:

- ``OutboxHandoff`` (``delivery.py``; ``listen --forward-to URL``, the default): the
  callback is committed to a SQLite outbox (``outbox.py``), then Knox gets 200; a
  delivery task posts it to the app with retries and moves it to the dead letters when
  the app refuses it (4xx) or the retries run out. At-least-once: the app dedupes on
  ``Idempotency-Key`` (the nonce).
- ``SyncHandoff`` (``listen --forward-to URL --forward-mode sync``): the app is called
  while Knox waits, and its answer decides Knox's: 5xx or no answer -> 502 and the claim
  released (Knox's resend is handed on again), else 200. For apps whose answer must
  reach Knox.
- ``StreamHandoff`` (``stream.py``; ``listen --to-stream redis://...``): XADD to a Redis
  Stream, consumed with consumer groups.

``keep`` returns what the record shows as ``forward``, or raises ``HandoffFailed``
(a ``Refused``: the receiver releases the claim and answers its status).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from knoxhook.receiver.forwarder import Forwarder, handed_on
from knoxhook.receiver.handoff.outbox import Parcel, Stats
from knoxhook.receiver.verdict import ReceiverReason, Refused

__all__ = ["Handoff", "HandoffFailed", "Parcel", "Report", "Stats", "SyncHandoff"]

Report = Callable[[dict[str, Any]], None]  # a delivery event: delivered, retry, dead_lettered


class HandoffFailed(Refused):
    """The callback was not handed on; ``forward`` is what the record shows."""

    def __init__(
        self, reason: ReceiverReason, message: str, forward: dict[str, Any] | None = None
    ) -> None:
        super().__init__(reason, message)
        self.forward = forward


class Handoff(Protocol):
    mode: str  # "outbox" | "sync" | "stream"

    async def open(self, report: Report) -> None:
        """In the receiver's lifespan, before the first request."""
        ...

    async def keep(self, parcel: Parcel) -> dict[str, Any]:
        """Hand ``parcel`` on durably, or raise ``HandoffFailed``."""
        ...

    async def close(self) -> None:
        """At shutdown, after the last request (the outbox drains, bounded)."""
        ...

    async def stats(self) -> Stats | None:
        """Queue depth, oldest age, dead letters (``/metrics``); None without a queue."""
        ...


class SyncHandoff:
    """The app's answer, while Knox waits, decides Knox's (see the module docstring)."""

    mode = "sync"

    def __init__(self, forwarder: Forwarder) -> None:
        self.forwarder = forwarder

    async def open(self, report: Report) -> None:
        await self.forwarder.open()

    async def keep(self, parcel: Parcel) -> dict[str, Any]:
        attempt = await self.forwarder.post(parcel.body, parcel.headers)
        forward = {"mode": self.mode, **attempt.as_record()}
        if not handed_on(forward):
            why = "your app did not take the callback; a resend will be handed on"
            raise HandoffFailed(ReceiverReason.FORWARD_FAILED, why, forward)
        return forward

    async def close(self) -> None:
        await self.forwarder.close()

    async def stats(self) -> Stats | None:
        return None

"""Injected faults: make the next N matching requests fail, slow down, or drop.

A fault (validated by ``models.FaultSpec``) matches a request by path (exact, or a
``fnmatch`` pattern such as ``/kwn/v1/subscriptions/*``) and optionally method. It
answers a status (429 with ``Retry-After``, 500, 502, 503...), adds latency, or drops
the connection without any response. With ``after`` the real handler runs first (a
create takes effect) and only then is its response replaced or dropped: the ambiguous
failure a client must survive without making a duplicate.

Applied by ``FaultMiddleware``, the outermost ASGI layer; control paths
(``/_emulator``) are never faulted.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import threading
from dataclasses import asdict, dataclass
from typing import Any

from knoxhook.emulator import CONTROL_PREFIX
from knoxhook.emulator.stats import Stats

Scope = dict[str, Any]
Message = dict[str, Any]


@dataclass
class Fault:
    path: str
    method: str | None = None
    count: int = 1
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    drop: bool = False
    after: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return path == self.path or fnmatch.fnmatchcase(path, self.path)


class FaultTable:
    """Pending faults, consumed first-in first-out; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def take(self, method: str, path: str) -> Fault | None:
        """The first matching fault, with one use consumed."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


async def _drop(send: Any) -> None:
    """Close the TCP connection without sending a byte of response.

    uvicorn answers 500 when an app ends without a response, so reach the transport
    of its request cycle (``send`` is its bound method) and abort it. Elsewhere,
    fall back to starting a response and breaking it off.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None:
        transport.abort()
        for _ in range(3):  # let the loop run connection_lost, so uvicorn sees it
            await asyncio.sleep(0)
        return
    await send({"type": "http.response.start", "status": 500, "headers": []})
    raise ConnectionAbortedError("fault: connection dropped")


async def _answer(send: Any, fault: Fault) -> None:
    status = fault.status or 500
    body = json.dumps(
        {"code": status * 1000 + 999, "message": "INJECTED_FAULT", "data": "injected by a fault"}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if fault.retry_after is not None:
        headers.append((b"retry-after", str(round(fault.retry_after)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class FaultMiddleware:
    """Outermost ASGI layer: counts requests, then applies a matching fault, if any."""

    def __init__(self, app: Any, faults: FaultTable, stats: Stats) -> None:
        self.emulator: Any = None  # set by create_app: the Emulator behind this app
        self.app = app
        self.faults = faults
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        self.stats.count_request(method, path)
        fault = self.faults.take(method, path)
        if fault is None:
            await self.app(scope, receive, send)
            return
        self.stats.count_fault()
        held: list[Message] = []
        if fault.after:

            async def hold(message: Message) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            await _drop(send)
        elif fault.status is not None:
            await _answer(send, fault)
        elif fault.after:  # only a delay after the handler: send its answer late
            for message in held:
                await send(message)
        else:
            await self.app(scope, receive, send)

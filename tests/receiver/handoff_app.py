"""The user's app in the hand-off tests: a real HTTP server on 127.0.0.1 that dedupes on
``Idempotency-Key``, as docs/deploy.md tells apps to; it can answer an error, or be
stopped and started again on the same port."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from contextlib import AbstractContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from knoxhook.serving import RunningServer, serve_in_thread


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class App:
    def __init__(self) -> None:
        self.port = free_port()
        self.posts: Counter[str] = Counter()  # Idempotency-Key -> POSTs answered
        self.arrived: set[str] = set()  # keys whose POST arrived (answered or not yet)
        self.taken: dict[str, tuple[bytes, dict[str, str]]] = {}  # first body, headers
        self.answer = 200
        self.retry_after: str | None = None
        self.delay = 0.0
        self.slow: dict[str, float] = {}  # Idempotency-Key -> its own delay
        self._lock = threading.Lock()
        self._running: AbstractContextManager[RunningServer] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/knox"

    async def _hook(self, request: Request) -> Response:
        import asyncio

        body = await request.body()
        key = request.headers.get("idempotency-key", "")
        with self._lock:
            self.arrived.add(key)
        if self.delay or key in self.slow:
            await asyncio.sleep(self.slow.get(key, self.delay))
        with self._lock:
            self.posts[key] += 1
            if self.answer != 200:
                extra = {"Retry-After": self.retry_after} if self.retry_after else None
                return JSONResponse({"error": "not now"}, self.answer, headers=extra)
            duplicate = key in self.taken
            if not duplicate:
                self.taken[key] = (body, dict(request.headers))
        return JSONResponse({"duplicate": duplicate})

    def start(self) -> App:
        app = Starlette(routes=[Route("/knox", self._hook, methods=["POST"])])
        self._running = serve_in_thread(app, "127.0.0.1", self.port)
        self._running.__enter__()
        return self

    def stop(self) -> None:
        if self._running is not None:
            self._running.__exit__(None, None, None)
            self._running = None

    def wait_for(self, keys: set[str], timeout: float) -> set[str]:
        """Wait (bounded) until every key was taken; the keys still missing."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                missing = keys - self.taken.keys()
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.05)

    def __enter__(self) -> App:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

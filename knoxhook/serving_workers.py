"""``listen --workers N``: N processes serving one listening socket (issue 13.3).

The parent binds the socket (so ``--port 0`` works and a busy port is one clear error),
then forks N workers. Each worker inherits the socket and runs the whole receiver
(its own store connection, recorder, printer) on it; the kernel hands each new
connection to one of them. The replay store is what keeps them consistent: SQLite
(WAL, ``BEGIN IMMEDIATE``; safe for several processes on one host) or Redis.

The parent only supervises:

- SIGTERM or SIGINT: it sends SIGTERM to each worker by PID (each then drains its
  requests in flight, as one ``listen`` does), waits up to ``stop_seconds``, then
  SIGKILLs what is left; it exits with the first non-zero worker status, else 0;
- a worker that exits on its own (``--timeout``, stdout closed, a crash): the parent
  stops the others and exits with that worker's status (a service manager restarts
  the whole);
- a worker whose parent dies (``kill -9``) stops itself (it watches its parent PID),
  so no orphan keeps the port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from knoxhook.serving import bind


@dataclass(frozen=True)
class Role:
    """What ``fork_workers`` returned to this process."""

    sock: socket.socket | None = None  # a worker: serve on this socket
    exit_code: int | None = None  # the parent: the workers are done, exit with this


def fork_workers(
    count: int,
    host: str,
    port: int,
    announce: Callable[[int], None],
    *,
    stop_seconds: float = 30.0,
) -> Role:
    """Bind ``host:port``, fork ``count`` workers; in the parent, ``announce(port)``
    then supervise them until they are done (see the module docstring)."""
    sock = bind(host, port)
    parent = os.getpid()
    pids: list[int] = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            _watch_parent(parent)
            return Role(sock=sock)
        pids.append(pid)
    announce(sock.getsockname()[1])
    return Role(exit_code=_supervise(pids, sock, stop_seconds))


def _watch_parent(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)  # the parent is gone: stop as on SIGTERM

    threading.Thread(target=watch, name="knoxhook-parent-watch", daemon=True).start()


def _supervise(pids: list[int], sock: socket.socket, stop_seconds: float) -> int:
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    sock.close()  # the workers hold it; the parent never accepts
    codes: dict[int, int] = {}
    try:
        while not stopping.is_set() and not codes:
            _reap(pids, codes)
            stopping.wait(0.1)
        for pid in pids:
            if pid not in codes:
                _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + stop_seconds
        while len(codes) < len(pids) and time.monotonic() < deadline:
            _reap(pids, codes)
            time.sleep(0.05)
        for pid in pids:
            if pid not in codes:
                _signal(pid, signal.SIGKILL)
                codes[pid] = _wait(pid)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return next((code for code in codes.values() if code), 0)


def _reap(pids: list[int], codes: dict[int, int]) -> None:
    for pid in pids:
        if pid not in codes:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                codes[pid] = _code(status)


def _wait(pid: int) -> int:
    return _code(os.waitpid(pid, 0)[1])


def _code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code  # killed by signal N: 128 + N, as a shell says


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
        os.kill(pid, signum)

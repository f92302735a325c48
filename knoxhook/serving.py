"""Run an ASGI app on uvicorn in a background thread (emulator, receiver, demo, tests).

``serve_in_thread`` binds first and reports the real port, so ``port=0`` works; it
waits (bounded) until uvicorn is serving and stops it cleanly on exit.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from knoxhook.errors import KnoxhookError, UsageError


@dataclass(frozen=True)
class RunningServer:
    host: str
    port: int

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); a clear usage error when it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only when the
    # proto says TCP; with proto 0 every response waits ~40 ms (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        in_use = exc.errno in (errno.EADDRINUSE, errno.EACCES)
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pick another --port (0 picks a free one)"
            if in_use
            else "check --host: an address of this machine, such as 127.0.0.1",
        ) from exc
    sock.listen(2048)
    return sock


@contextmanager
def serve_in_thread(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, startup_timeout: float = 10.0
) -> Iterator[RunningServer]:
    """Serve ``app`` until the block ends; yields the host and the bound port."""
    import uvicorn

    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise KnoxhookError(f"the server on {host}:{bound_port} did not start")
        time.sleep(0.01)
    try:
        yield RunningServer(host, bound_port)
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout)
        sock.close()

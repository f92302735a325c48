"""Run an ASGI app on uvicorn in a background thread (emulator, receiver, demo, tests).

``serve_in_thread`` binds first and reports the real port, so ``port=0`` works; it
waits (bounded) until uvicorn is serving, runs the app's lifespan (startup before the
first request, shutdown at the end), and on exit stops it gracefully: requests in
flight are finished (up to ``Limits.drain_seconds``), idle connections closed.

uvicorn's fast stack is used when importable: uvloop for the event loop, httptools
(llhttp) for HTTP/1.1; else asyncio and h11. Every server is guarded against slow or
hoarding clients (issue 13.4, "slowloris"; ``Limits``, ``knoxhook.serving_guards``): a
header deadline, a connection cap, a header size limit, and an early answer (413) that
the client gets to read. The body's deadline is the app's (``knoxhook.receiver.body``).
"""

from __future__ import annotations

import errno
import logging
import resource
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from knoxhook.errors import KnoxhookError, UsageError
from knoxhook.serving_guards import fast_stack, guarded_protocol


@dataclass(frozen=True)
class RunningServer:
    host: str
    port: int
    scheme: str = "http"

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class Tls:
    """A certificate chain and its private key (PEM files), for HTTPS."""

    certfile: str
    keyfile: str


@dataclass(frozen=True)
class Limits:
    """How long and how much a client may take."""

    header_seconds: float = 10.0  # from connect (or the last answer) to complete headers
    keep_alive_seconds: float = 5.0  # an idle keep-alive connection is closed after this
    max_connections: int | None = None  # None: 1000, or fewer under a low `ulimit -n`
    max_header_bytes: int = 64 * 1024  # the receiver raises it: an attached JWS is 4/3 body
    drain_seconds: float = 10.0  # on stop, requests in flight get this long to finish
    drain_bytes: int = 16 * 1024 * 1024  # of a body still arriving after its (early) answer

    def connections(self) -> int:
        if self.max_connections is not None:
            return self.max_connections
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return 1000
        return max(16, min(1000, soft - 64))  # leave descriptors for files and clients


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
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    startup_timeout: float = 10.0,
    limits: Limits | None = None,
    log_handler: logging.Handler | None = None,
    tls: Tls | None = None,
    parser: str = "auto",
    sock: socket.socket | None = None,
) -> Iterator[RunningServer]:
    """Serve ``app`` until the block ends; yields the host and the bound port.

    ``log_handler``: where uvicorn's and knoxhook's warnings go while serving (``listen
    --log-format``; knoxhook's INFO lines too under ``-v``, see ``_log_to``); by
    default uvicorn's own stderr format. ``tls``: serve HTTPS.
    ``parser``: ``"auto"`` (httptools when importable), ``"httptools"`` or ``"h11"``.
    ``sock``: an already listening socket (``--workers``: shared by the processes;
    kept open), instead of binding ``host:port``."""
    import uvicorn

    limits = limits or Limits()
    options: dict[str, Any] = {}
    if log_handler is not None:
        options["log_config"] = None
    restore_logging = _log_to(log_handler)
    owned = sock is None
    if sock is None:
        sock = bind(host, port)
    else:
        host = sock.getsockname()[0]
    bound_port = sock.getsockname()[1]
    if tls is not None:
        options["ssl_certfile"] = tls.certfile
        options["ssl_keyfile"] = tls.keyfile
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        http=guarded_protocol(limits, parser),
        loop="uvloop" if parser != "h11" and fast_stack() else "asyncio",
        timeout_keep_alive=int(limits.keep_alive_seconds),
        timeout_graceful_shutdown=int(limits.drain_seconds),
        h11_max_incomplete_event_size=limits.max_header_bytes,
        **options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            if owned:
                sock.close()
            restore_logging()
            raise KnoxhookError(f"the server on {host}:{bound_port} did not start")
        time.sleep(0.01)
    try:
        yield RunningServer(host, bound_port, "https" if tls else "http")
    finally:
        server.should_exit = True
        thread.join(timeout=limits.drain_seconds + startup_timeout)
        if owned:
            sock.close()
        restore_logging()


def _log_to(handler: logging.Handler | None) -> Callable[[], None]:
    """Send uvicorn's and knoxhook's lines to ``handler`` while serving; the function
    that puts the loggers back as they were.

    uvicorn's from WARNING. knoxhook's from WARNING too, unless the caller set the
    ``knoxhook`` logger lower: ``knoxhook -v listen`` sets INFO (``cli/main.py``), and
    then its INFO lines (a certificate downloaded, a request retried) go there too."""
    if handler is None:
        return lambda: None
    saved = []
    for name in ("uvicorn", "knoxhook"):
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.level, logger.propagate))
        asked = logger.level if name == "knoxhook" else logging.NOTSET
        logger.handlers[:] = [handler]
        logger.setLevel(asked if logging.NOTSET < asked < logging.WARNING else logging.WARNING)
        logger.propagate = False

    def restore() -> None:
        for logger, handlers, level, propagate in saved:
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate

    return restore

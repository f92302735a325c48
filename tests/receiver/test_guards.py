"""Slow and hoarding clients (audit 13.4, "slowloris"), on a real uvicorn server."""

from __future__ import annotations

import socket
import time

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from knoxhook.serving import Limits, serve_in_thread


def _app() -> Starlette:
    async def hello(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/", hello, methods=["GET", "POST"])])


def _closed_within(conn: socket.socket, seconds: float) -> bool:
    """Does the server close ``conn`` (EOF or reset) within ``seconds``?"""
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            conn.settimeout(left)
            if conn.recv(65536) == b"":  # what is left of an earlier answer is skipped
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return False


def test_connections_that_trickle_their_headers_are_cut_at_the_deadline() -> None:
    limits = Limits(header_seconds=1.0)
    with serve_in_thread(_app(), limits=limits) as server:
        slow = []
        for _ in range(50):
            conn = socket.create_connection((server.host, server.port), timeout=5)
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
            slow.append(conn)
        started = time.monotonic()
        # a genuine client is served meanwhile
        assert httpx2.get(server.base_url + "/", timeout=5).json() == {"ok": True}
        for conn in slow[:3]:
            conn.sendall(b"X-Trickle: 1\r\n")  # a byte now and then does not reset it
        closed = [_closed_within(conn, 5.0) for conn in slow]
        elapsed = time.monotonic() - started
        for conn in slow:
            conn.close()
    assert all(closed)
    assert elapsed < 4.0  # cut at ~1 s, not after uvicorn's default of never


def test_an_idle_connection_after_an_answer_gets_the_same_deadline() -> None:
    with serve_in_thread(_app(), limits=Limits(header_seconds=1.0)) as server:
        conn = socket.create_connection((server.host, server.port), timeout=5)
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = conn.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        conn.sendall(b"GET / HTTP/1.1\r\n")  # the next request, never finished
        for _ in range(3):
            time.sleep(0.3)
            conn.sendall(b"X: y\r\n")
        assert _closed_within(conn, 5.0)
        assert time.monotonic() - started < 3.0
        conn.close()


def test_past_the_connection_cap_new_connections_are_closed_at_once() -> None:
    limits = Limits(header_seconds=30.0, max_connections=10)
    with serve_in_thread(_app(), limits=limits) as server:
        hoard = [socket.create_connection((server.host, server.port), timeout=5) for _ in range(10)]
        time.sleep(0.3)
        extra = socket.create_connection((server.host, server.port), timeout=5)
        refused = _closed_within(extra, 2.0)
        extra.close()
        for conn in hoard:
            conn.close()
        time.sleep(0.3)
        # once the hoarders are gone, clients are served again
        served = httpx2.get(server.base_url + "/", timeout=5).status_code
    assert refused
    assert served == 200


def test_the_connection_cap_follows_a_low_ulimit() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        assert Limits().connections() == 192
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert Limits(max_connections=5).connections() == 5

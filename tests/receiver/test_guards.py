"""Slow and hoarding clients (audit 13.4, "slowloris"), on a real uvicorn server, with
each of uvicorn's HTTP parsers (httptools, the default when importable, and h11)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx2
import pytest
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


@pytest.fixture(params=["httptools", "h11"])
def parser(request: pytest.FixtureRequest) -> str:
    return str(request.param)


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


def test_connections_that_trickle_their_headers_are_cut_at_the_deadline(parser: str) -> None:
    limits = Limits(header_seconds=1.0)
    with serve_in_thread(_app(), limits=limits, parser=parser) as server:
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


def test_an_idle_connection_after_an_answer_gets_the_same_deadline(parser: str) -> None:
    with serve_in_thread(_app(), limits=Limits(header_seconds=1.0), parser=parser) as server:
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


def test_past_the_connection_cap_new_connections_are_closed_at_once(parser: str) -> None:
    limits = Limits(header_seconds=30.0, max_connections=10)
    with serve_in_thread(_app(), limits=limits, parser=parser) as server:
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


def test_httptools_and_uvloop_are_the_default_stack() -> None:
    from knoxhook.serving_guards import guarded_protocol

    async def loop_kind(request: Request) -> JSONResponse:
        return JSONResponse({"loop": type(asyncio.get_running_loop()).__module__})

    app = Starlette(routes=[Route("/", loop_kind)])
    with serve_in_thread(app) as server:
        answer = httpx2.get(server.base_url + "/", timeout=5).json()
    assert answer == {"loop": "uvloop"}
    assert guarded_protocol(Limits()).__name__ == "GuardedHttpTools"
    assert guarded_protocol(Limits(), "h11").__name__ == "GuardedH11"


def _answer(conn: socket.socket, seconds: float = 5.0) -> bytes:
    """One HTTP answer read off a raw socket: to its Content-Length, else to the close."""
    conn.settimeout(seconds)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    fields = dict(h.lower().partition(b": ")[::2] for h in head.split(b"\r\n")[1:])
    length = int(fields.get(b"content-length", b"-1"))
    while len(body) < length or length < 0:
        try:
            chunk = conn.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_headers_over_the_limit_get_400_and_a_close(parser: str) -> None:
    limits = Limits(max_header_bytes=16 * 1024)
    with serve_in_thread(_app(), limits=limits, parser=parser) as server:
        ok = socket.create_connection((server.host, server.port), timeout=5)
        ok.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 12_000 + b"\r\n\r\n")
        assert _answer(ok).startswith(b"HTTP/1.1 200")
        ok.close()
        big = socket.create_connection((server.host, server.port), timeout=5)
        big.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        for _ in range(20):  # 20 KiB of headers, never complete (h11 bounds its buffer)
            try:
                big.sendall(b"X-A: b\r\n" * 128)
            except OSError:
                break  # refused and closed already
            time.sleep(0.02)
        refused = _answer(big)
        closed = _closed_within(big, 2.0)
        big.close()
        endless = socket.create_connection((server.host, server.port), timeout=5)
        endless.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        for _ in range(10):  # one header value that never ends, 20 KiB so far
            try:
                endless.sendall(b"e" * 2048)
            except OSError:
                break  # refused and closed already
            time.sleep(0.02)
        cut = _answer(endless)
        endless.close()
    assert refused.startswith(b"HTTP/1.1 400")
    assert closed
    assert cut.startswith(b"HTTP/1.1 400")


def _too_large_app() -> Starlette:
    from knoxhook.errors import CallbackVerificationError
    from knoxhook.receiver.body import read_body

    async def endpoint(request: Request) -> JSONResponse:
        try:
            await read_body(request.receive, 1000)
        except CallbackVerificationError as exc:
            return JSONResponse({"reason": str(exc.reason)}, 413)
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/", endpoint, methods=["GET", "POST"])])


def _post_in_background(conn: socket.socket, size: int) -> threading.Thread:
    def send() -> None:
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
        try:
            for _ in range(size // 65536):
                conn.sendall(b"x" * 65536)
        except OSError:
            pass  # the server gave up on the body (past its drain bound)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_a_413_is_read_and_the_rest_of_the_body_drained(parser: str) -> None:
    with serve_in_thread(_too_large_app(), parser=parser) as server:
        conn = socket.create_connection((server.host, server.port), timeout=10)
        _post_in_background(conn, 4 * 1024 * 1024).join(timeout=30)
        refused = _answer(conn)
        # the over-limit body was read and dropped: the connection serves the next request
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        after = _answer(conn)
        conn.close()
    assert refused.startswith(b"HTTP/1.1 413")
    assert refused.endswith(b'{"reason":"body_too_large"}')
    assert after.startswith(b"HTTP/1.1 200")


def test_past_the_drain_bound_the_413_is_read_then_the_connection_closed(parser: str) -> None:
    limits = Limits(drain_bytes=256 * 1024)
    with serve_in_thread(_too_large_app(), limits=limits, parser=parser) as server:
        conn = socket.create_connection((server.host, server.port), timeout=10)
        started = time.monotonic()
        sender = _post_in_background(conn, 64 * 1024 * 1024)
        refused = _answer(conn)
        closed = _closed_within(conn, 5.0)
        sender.join(timeout=10)
        conn.close()
    assert refused.startswith(b"HTTP/1.1 413")
    assert closed
    assert time.monotonic() - started < 8  # not after reading all 64 MiB at any pace
    assert not sender.is_alive()

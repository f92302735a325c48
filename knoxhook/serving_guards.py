"""uvicorn's HTTP protocols with knoxhook's guards (issue 13.4, "slowloris"), for both of
uvicorn's parsers: httptools (C, llhttp; used when importable) and h11 (pure Python).

The guards, the same on both (``serving.Limits``):

- **header deadline**: a connection must deliver a request's headers within
  ``header_seconds`` of opening (or of its previous answer), else it is closed, however
  slowly it trickles bytes (uvicorn's ``timeout_keep_alive`` is reset by every byte);
- **connection cap**: past ``max_connections`` a new connection is closed at once, so
  hoarders cannot exhaust the file descriptors (uvicorn's ``limit_concurrency`` answers
  503 but keeps the socket);
- **header size**: headers over ``max_header_bytes`` get uvicorn's 400 and a close.
  h11 enforces it itself (``h11_max_incomplete_event_size``); llhttp has no such
  limit, so the httptools protocol counts what arrives before the headers are complete;
- **an early answer is read**: when the app answers before the request body is complete
  (a 413 for a body over the limit), the rest of the body is read and dropped, up to
  ``drain_bytes`` and ``header_seconds``, so the client gets to read its answer: closing
  a socket with unread data makes the kernel send a TCP reset, and a client still
  sending then never sees the answer. Past either bound the connection is closed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from knoxhook.serving import Limits


def fast_stack() -> bool:
    """Are httptools and uvloop importable (uvicorn's fast stack)?"""
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


class _Guards:
    """What both protocols share; the subclasses say when headers and bodies end."""

    limits: Limits
    cap: int
    _deadline: asyncio.TimerHandle | None = None
    _draining = 0  # bytes of an answered request's body still allowed in, while > 0
    # from uvicorn's protocols
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    connections: set[Any]

    def _admit(self) -> bool:
        if len(self.connections) > self.cap:
            self.connections.discard(self)
            self.transport.abort()  # at the cap: free the descriptor now
            return False
        self._arm()
        return True

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.limits.header_seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if (self._draining or self._idle()) and not self.transport.is_closing():
            self.transport.abort()

    def _idle(self) -> bool:
        """Is the connection waiting for a request's headers?"""
        raise NotImplementedError

    def _answered_early(self) -> None:
        """The answer is out but the request body is not all in: read and drop it."""
        self._draining = self.limits.drain_bytes

    def _drained(self, size: int) -> None:
        """``size`` more bytes of an answered request's body arrived."""
        self._draining -= size
        if self._draining <= 0 and not self.transport.is_closing():
            self._draining = 0
            self.transport.abort()  # past the bound: the answer was sent long ago

    def _body_done(self) -> None:
        if self._draining:
            self._draining = 0
            if not self.transport.is_closing():
                self._arm()  # the next request's headers are due


def _h11(limits: Limits, cap: int) -> type[asyncio.Protocol]:
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11(_Guards, H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._admit()

        def _idle(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def data_received(self, data: bytes) -> None:
            if self._draining:
                self._drained(len(data))
                if self.transport.is_closing():
                    return
            super().data_received(data)

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            if self.cycle is not before:  # the headers of a new request are complete
                self._disarm()
            if self._draining and self.conn.their_state is not h11.SEND_BODY:
                self._body_done()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.transport.is_closing():
                return
            self._arm()
            if self.conn.their_state is h11.SEND_BODY:
                self._answered_early()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    GuardedH11.limits, GuardedH11.cap = limits, cap
    return GuardedH11


class HeadersTooLarge(Exception):
    """Raised inside httptools' callbacks; uvicorn answers 400 and closes."""


def _httptools(limits: Limits, cap: int) -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpTools(_Guards, HttpToolsProtocol):
        _in_headers = True  # bytes now arriving belong to a request's headers
        _in_body = False
        _header_bytes = 0
        _requests = 0  # headers completed on this connection

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._admit()

        def _idle(self) -> bool:
            return self._in_headers and (self.cycle is None or self.cycle.response_complete)

        def data_received(self, data: bytes) -> None:
            if self._draining and not self._in_headers:
                self._drained(len(data))
                if self.transport.is_closing():
                    return
            counting, requests = self._in_headers, self._requests
            super().data_received(data)
            if counting and self._requests == requests and not self.transport.is_closing():
                # headers still incomplete: llhttp buffers a partial header unbounded
                self._header_bytes += len(data)
                if self._header_bytes > limits.max_header_bytes:
                    self.send_400_response("Invalid HTTP request received.")

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_headers, self._header_bytes = True, 0

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def _count(self, size: int) -> None:
            self._header_bytes += size
            if self._header_bytes > limits.max_header_bytes:
                raise HeadersTooLarge  # httptools re-raises it as an HttpParserError

        def on_headers_complete(self) -> None:
            self._in_headers, self._in_body, self._header_bytes = False, True, 0
            self._requests += 1
            super().on_headers_complete()
            self._disarm()

        def on_message_complete(self) -> None:
            self._in_body, self._in_headers = False, True
            super().on_message_complete()
            self._body_done()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.transport.is_closing():
                return
            self._arm()
            if self._in_body and self.cycle is not None and self.cycle.response_complete:
                self._answered_early()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    GuardedHttpTools.limits, GuardedHttpTools.cap = limits, cap
    return GuardedHttpTools


def guarded_protocol(limits: Limits, parser: str = "auto") -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol (``parser="auto"`` when importable, or
    ``"httptools"``) or its h11 protocol (``"h11"``), with the guards above."""
    cap = limits.connections()
    if parser == "h11" or (parser == "auto" and not fast_stack()):
        return _h11(limits, cap)
    return _httptools(limits, cap)

"""Reading a callback off the wire, shared by the receiver, the middleware and
``verify_request``: the body under a size limit and a deadline, and the headers in one
pass (the lookup, the record's copy, the Knox headers that must not repeat).

The size limit applies while streaming: a body is refused as soon as it grows past the
limit, never buffered whole first. A client that sends its body too slowly (slowloris)
is cut off at the deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final, NamedTuple

from knoxhook import wire
from knoxhook.errors import CallbackVerificationError
from knoxhook.receiver.nonces import MAX_NONCE_BYTES
from knoxhook.signature import Reason

BODY_TIMEOUT: Final = 30.0  # seconds for the whole body to arrive
# Knox's headers that must appear at most once: with two, each reader (the verifier, the
# record, an app behind the middleware) might take a different one (issue 12.6).
SINGLE_HEADERS: Final = (wire.H_SIGNATURE.lower().encode(), wire.H_NONCE.lower().encode())
_NONCE: Final = wire.H_NONCE.lower().encode()
REDACTED_HEADERS: Final = frozenset({"authorization", "cookie", "proxy-authorization"})


class Disconnected(Exception):
    """The client went away before its request was complete."""


class ReadTimeout(Exception):
    """The body did not arrive within the deadline."""


async def read_body(
    receive: Callable[[], Awaitable[Any]], limit: int, timeout: float = BODY_TIMEOUT
) -> bytes:
    """The request body from ASGI ``receive``; ``CallbackVerificationError``
    (``body_too_large``) once it grows past ``limit``, ``ReadTimeout`` past ``timeout``
    seconds, ``Disconnected`` if the client leaves."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise Disconnected
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    why = f"the body is over the limit of {limit} bytes"
                    raise CallbackVerificationError(Reason.BODY_TOO_LARGE, why)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
    except TimeoutError:
        raise ReadTimeout(f"the body did not arrive within {timeout:g} s") from None


class Headers(NamedTuple):
    """A request's headers, read once (``scan_headers``)."""

    lookup: dict[str, str]  # name -> value, for ``verify_callback`` (the last of a repeat)
    record: dict[str, str]  # for the record: repeats joined with ", ", secrets redacted
    problem: CallbackVerificationError | None  # a repeated Knox header, a bad nonce


def scan_headers(raw: list[tuple[bytes, bytes]]) -> Headers:
    """The ASGI header list in one pass (names lower-cased): the lookup dict, the
    record's copy (the values of a repeated name joined with ", ", RFC 9110 §5.3, so a
    record shows both of two signatures; ``REDACTED_HEADERS`` hidden), and the first
    problem in header order: a repeated ``X-WSM-SIGNATURE`` or ``x-knox-nonce``
    (``duplicate_header``), an over-long or unprintable nonce (``malformed_nonce``).
    The caller raises ``problem`` when it is ready to."""
    lookup: dict[str, str] = {}
    record: dict[str, str] = {}
    problem: CallbackVerificationError | None = None
    for name_bytes, value_bytes in raw:
        # ASGI servers lower-case the names; one that does not must not slip past the
        # redaction or the duplicate check
        name_bytes = name_bytes.lower()
        name = name_bytes.decode("latin-1")
        value = value_bytes.decode("latin-1")
        shown = "[redacted]" if name in REDACTED_HEADERS else value
        if name in lookup:
            record[name] = f"{record[name]}, {shown}"
            if problem is None and name_bytes in SINGLE_HEADERS:
                why = f"the request has two {name} headers"
                problem = CallbackVerificationError(Reason.DUPLICATE_HEADER, why)
        else:
            record[name] = shown
        lookup[name] = value
        if problem is None and name_bytes == _NONCE:
            problem = _nonce_problem(value_bytes.strip())
    return Headers(lookup, record, problem)


def _nonce_problem(nonce: bytes) -> CallbackVerificationError | None:
    if len(nonce) > MAX_NONCE_BYTES:
        why = f"the {wire.H_NONCE} header is over {MAX_NONCE_BYTES} bytes"
        return CallbackVerificationError(Reason.MALFORMED_NONCE, why)
    if not all(0x21 <= byte <= 0x7E for byte in nonce):
        why = f"the {wire.H_NONCE} header is not printable ASCII"
        return CallbackVerificationError(Reason.MALFORMED_NONCE, why)
    return None

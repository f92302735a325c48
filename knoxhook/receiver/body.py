"""Reading a callback off the wire, shared by the receiver, the middleware and
``verify_request``: the body under a size limit and a deadline, and the headers that
must not repeat.

The size limit applies while streaming: a body is refused as soon as it grows past the
limit, never buffered whole first. A client that sends its body too slowly (slowloris)
is cut off at the deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final

from knoxhook import wire
from knoxhook.errors import CallbackVerificationError
from knoxhook.receiver.nonces import MAX_NONCE_BYTES
from knoxhook.signature import Reason

BODY_TIMEOUT: Final = 30.0  # seconds for the whole body to arrive
# Knox's headers that must appear at most once: with two, each reader (the verifier, the
# record, an app behind the middleware) might take a different one (issue 12.6).
SINGLE_HEADERS: Final = (wire.H_SIGNATURE.lower().encode(), wire.H_NONCE.lower().encode())
_NONCE: Final = wire.H_NONCE.lower().encode()


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


def check_headers(raw: list[tuple[bytes, bytes]]) -> None:
    """Refuse a repeated ``X-WSM-SIGNATURE`` or ``x-knox-nonce`` (``duplicate_header``)
    and an over-long nonce (``malformed_nonce``). ``raw`` is the ASGI header list, names
    lower-cased as ASGI servers deliver them."""
    seen: set[bytes] = set()
    for name, value in raw:
        if name in SINGLE_HEADERS:
            if name in seen:
                why = f"the request has two {name.decode()} headers"
                raise CallbackVerificationError(Reason.DUPLICATE_HEADER, why)
            seen.add(name)
            if name == _NONCE:
                _check_nonce(value.strip())


def _check_nonce(nonce: bytes) -> None:
    if len(nonce) > MAX_NONCE_BYTES:
        why = f"the {wire.H_NONCE} header is over {MAX_NONCE_BYTES} bytes"
        raise CallbackVerificationError(Reason.MALFORMED_NONCE, why)
    if not all(0x21 <= byte <= 0x7E for byte in nonce):
        why = f"the {wire.H_NONCE} header is not printable ASCII"
        raise CallbackVerificationError(Reason.MALFORMED_NONCE, why)


def header_dict(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The ASGI header list as a dict for ``verify_callback`` (after ``check_headers``,
    so the names that matter appear once)."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}

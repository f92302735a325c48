"""``listen --to-stream redis://HOST:PORT/DB/STREAM``: XADD each verified callback to a
Redis Stream before Knox gets its 200, for apps that consume with consumer groups.

The URL: ``redis://`` or ``rediss://``, then ``/DB/STREAM`` (``redis://127.0.0.1:6379/0/
knox-callbacks``; without ``/STREAM``, ``knox-callbacks``), and ``?maxlen=N`` to trim
the stream to about N entries (``XADD MAXLEN ~ N``; by default it is not trimmed: trim
it after XACK, e.g. ``XTRIM MINID``). Each entry's fields (bytes, as received):

``body`` (the bytes kept), ``headers`` (JSON: what ``--forward-to`` would send, with
``Idempotency-Key``), ``nonce``, ``event``, ``subscription_id``, ``received_at``.

Each callback is added once per replay window, whichever replica keeps it: the XADD
runs in a Lua script that first sets ``knoxhook:streamed:<stream>:<nonce>`` (``SET NX``
with the window as TTL, the entry id as value) and adds nothing when the key exists;
the answer then names the entry already there (``"duplicate": true``). So a callback
kept again after a replica died between the XADD and its 200 (Knox resends, another
replica accepts) is not added twice. Consumers still dedupe on the nonce for their own
redeliveries (XAUTOCLAIM).

A failing XADD (Redis down, a timeout, OOM) raises ``HandoffFailed(stream_unavailable)``:
the receiver releases the claim and answers 503, so Knox resends. The XADD runs on the
event loop (redis.asyncio). ``redis`` is imported here only when the mode is used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit, urlunsplit

from knoxhook.httptrace import redact_url
from knoxhook.receiver.handoff import HandoffFailed, Report
from knoxhook.receiver.handoff.outbox import Parcel, Stats
from knoxhook.receiver.nonces import DEFAULT_WINDOW
from knoxhook.receiver.redisconn import LoopClient, connect
from knoxhook.receiver.verdict import ReceiverReason

DEFAULT_STREAM: Final = "knox-callbacks"
DEDUPE_PREFIX: Final = "knoxhook:streamed:"
# KEYS[1] the stream, KEYS[2] the dedupe key; ARGV[1] the TTL in ms, ARGV[2] MAXLEN ("" for
# none), then the entry's field/value pairs. Returns {1, id} added, {0, id} already there.
_ADD_ONCE: Final = """
local seen = redis.call('GET', KEYS[2])
if seen then return {0, seen} end
local id
if ARGV[2] ~= '' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
else
  id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
end
redis.call('SET', KEYS[2], id, 'PX', ARGV[1])
return {1, id}
"""


@dataclass(frozen=True)
class StreamTarget:
    redis_url: str  # scheme://[auth@]host:port/DB, for redis-py
    stream: str
    maxlen: int | None

    @property
    def shown(self) -> str:
        return f"{redact_url(self.redis_url)}/{self.stream}"


def parse_stream_url(url: str) -> StreamTarget:
    """``redis://HOST:PORT/DB/STREAM[?maxlen=N]``; ``ValueError`` naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError("must be a redis://HOST:PORT/DB/STREAM (or rediss://) URL")
    parts.port  # noqa: B018 - raises ValueError on a bad port
    db, _, stream = parts.path.lstrip("/").partition("/")
    if db and not db.isdigit():
        raise ValueError(f"the database must be a number: {db!r}")
    if "/" in stream:
        raise ValueError(f"the stream name may not contain '/': {stream!r}")
    query = parse_qs(parts.query)
    maxlen = None
    if "maxlen" in query:
        text = query["maxlen"][-1]
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"maxlen must be a positive number: {text!r}")
        maxlen = int(text)
    base = urlunsplit((parts.scheme, parts.netloc, "/" + (db or "0"), "", ""))
    return StreamTarget(base, stream or DEFAULT_STREAM, maxlen)


class StreamHandoff:
    """XADD to a Redis Stream (see the module docstring)."""

    mode = "stream"

    def __init__(
        self, target: StreamTarget, *, timeout: float = 2.0, window_seconds: float = DEFAULT_WINDOW
    ) -> None:
        import redis

        self.target = target
        self.window = window_seconds
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._redis: Any = connect(target.redis_url, timeout)
        self._loop_client = LoopClient(target.redis_url, timeout)
        self._add_once: Any = None  # the script, registered on the loop's client

    async def open(self, report: Report) -> None:
        return None

    async def keep(self, parcel: Parcel) -> dict[str, Any]:
        fields: list[Any] = [
            "body", parcel.body,
            "headers", json.dumps(parcel.headers),
            "nonce", parcel.nonce or "",
            "event", parcel.event or "",
            "subscription_id", parcel.subscription_id or "",
            "received_at", parcel.received_at,
        ]  # fmt: skip
        maxlen = "" if self.target.maxlen is None else str(self.target.maxlen)
        ttl = max(1, round(self.window * 1000))
        try:
            client = self._loop_client.get()
            if self._add_once is None or self._add_once.registered_client is not client:
                self._add_once = client.register_script(_ADD_ONCE)
            added, entry = await self._add_once(
                keys=[self.target.stream, f"{DEDUPE_PREFIX}{self.target.stream}:{parcel.key}"],
                args=[ttl, maxlen, *fields],
            )
        except self._errors as exc:
            why = f"the stream {self.target.shown} is unavailable: {exc}; retry"
            raise HandoffFailed(ReceiverReason.STREAM_UNAVAILABLE, why) from exc
        entry_id = entry.decode() if isinstance(entry, bytes) else str(entry)
        return {
            "mode": self.mode,
            "stream": self.target.stream,
            "id": entry_id,
            "duplicate": not added,
        }

    async def close(self) -> None:
        await self._loop_client.aclose()
        self._redis.close()

    async def stats(self) -> Stats | None:
        return None

    def ping(self) -> None:
        """Raise the Redis error unless the server answers (``listen``'s start-up check)."""
        self._redis.ping()

"""``listen --to-stream redis://HOST:PORT/DB/STREAM``: XADD each verified callback to a
Redis Stream before Knox gets its 200, for apps that consume with consumer groups.

The URL: ``redis://`` or ``rediss://``, then ``/DB/STREAM`` (``redis://127.0.0.1:6379/0/
knox-callbacks``; without ``/STREAM``, ``knox-callbacks``), and ``?maxlen=N`` to trim
the stream to about N entries (``XADD MAXLEN ~ N``; by default it is not trimmed: trim
it after XACK, e.g. ``XTRIM MINID``). Each entry's fields (bytes, as received):

``body`` (the bytes kept), ``headers`` (JSON: what ``--forward-to`` would send, with
``Idempotency-Key``), ``nonce``, ``event``, ``subscription_id``, ``received_at``.

Each callback is added once per replay window, whichever replica keeps it: the XADD
runs in a Lua script that first sets ``knoxhook:streamed:<nonce>`` (``SET NX`` with the
window as TTL, the entry id as value) and adds nothing when the key exists; the answer
then names the entry already there (``"duplicate": true``). So a callback kept again
after a replica died between the XADD and its 200 (Knox resends, another replica
accepts) is not added twice. Consumers still dedupe on the nonce for their own
redeliveries (XAUTOCLAIM).

A failing XADD (Redis down, a timeout, OOM) raises ``HandoffFailed(stream_unavailable)``:
the receiver releases the claim and answers 503, so Knox resends. The XADD runs on the
event loop (redis.asyncio). ``redis`` is imported here only when the mode is used.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit, urlunsplit

from knoxhook.httptrace import redact_url
from knoxhook.receiver.handoff import HandoffFailed, Report
from knoxhook.receiver.handoff.outbox import Parcel, Stats
from knoxhook.receiver.nonces import DEFAULT_WINDOW
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
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.target = target
        self.window = window_seconds
        self._timeout = timeout
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._redis: Any = redis.Redis.from_url(
            target.redis_url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),  # one quick retry, then 503: Knox resends later
        )
        self._async: Any = None  # (loop, redis.asyncio client, the script), made on use

    async def open(self, report: Report) -> None:
        return None

    def _script(self) -> Any:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            client = redis.asyncio.Redis.from_url(
                self.target.redis_url,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                retry=Retry(NoBackoff(), 1),
            )
            self._async = (loop, client, client.register_script(_ADD_ONCE))
        return self._async[2]

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
            added, entry = await self._script()(
                keys=[self.target.stream, DEDUPE_PREFIX + parcel.key], args=[ttl, maxlen, *fields]
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
        if self._async is not None:
            client, self._async = self._async[1], None
            await client.aclose()
        self._redis.close()

    async def stats(self) -> Stats | None:
        return None

    def ping(self) -> None:
        """Raise the Redis error unless the server answers (``listen``'s start-up check)."""
        self._redis.ping()

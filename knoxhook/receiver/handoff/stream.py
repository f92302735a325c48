"""``listen --to-stream redis://HOST:PORT/DB/STREAM``: XADD each verified callback to a
Redis Stream before Knox gets its 200, for apps that consume with consumer groups.

The URL: ``redis://`` or ``rediss://``, then ``/DB/STREAM`` (``redis://127.0.0.1:6379/0/
knox-callbacks``; without ``/STREAM``, ``knox-callbacks``), and ``?maxlen=N`` to trim
the stream to about N entries (``XADD MAXLEN ~ N``; by default it is not trimmed: trim
it after XACK, e.g. ``XTRIM MINID``). Each entry's fields (bytes, as received):

``body`` (the bytes kept), ``headers`` (JSON: what ``--forward-to`` would send, with
``Idempotency-Key``), ``nonce``, ``event``, ``subscription_id``, ``received_at``.

A failing XADD (Redis down, a timeout, OOM) raises ``HandoffFailed(stream_unavailable)``:
the receiver releases the claim and answers 503, so Knox resends. An XADD whose answer
was lost may have been applied: delivery is at-least-once, and consumers dedupe on the
nonce. ``redis`` is imported here only when the mode is used.
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
from knoxhook.receiver.verdict import ReceiverReason

DEFAULT_STREAM: Final = "knox-callbacks"


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

    def __init__(self, target: StreamTarget, *, timeout: float = 2.0) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.target = target
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._redis: Any = redis.Redis.from_url(
            target.redis_url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),  # one quick retry, then 503: Knox resends later
        )

    async def open(self, report: Report) -> None:
        return None

    def _add(self, parcel: Parcel) -> str:
        fields = {
            "body": parcel.body,
            "headers": json.dumps(parcel.headers),
            "nonce": parcel.nonce or "",
            "event": parcel.event or "",
            "subscription_id": parcel.subscription_id or "",
            "received_at": parcel.received_at,
        }
        options: dict[str, Any] = {}
        if self.target.maxlen is not None:
            options = {"maxlen": self.target.maxlen, "approximate": True}
        entry = self._redis.xadd(self.target.stream, fields, **options)
        return entry.decode() if isinstance(entry, bytes) else str(entry)

    async def keep(self, parcel: Parcel) -> dict[str, Any]:
        try:
            entry = await asyncio.to_thread(self._add, parcel)
        except self._errors as exc:
            why = f"the stream {self.target.shown} is unavailable: {exc}; retry"
            raise HandoffFailed(ReceiverReason.STREAM_UNAVAILABLE, why) from exc
        return {"mode": self.mode, "stream": self.target.stream, "id": entry}

    async def close(self) -> None:
        self._redis.close()

    async def stats(self) -> Stats | None:
        return None

    def ping(self) -> None:
        """Raise the Redis error unless the server answers (``listen``'s start-up check)."""
        self._redis.ping()

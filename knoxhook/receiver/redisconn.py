"""How the receiver connects to Redis (the replay store, ``--to-stream``): short
timeouts and one quick retry (a pooled connection Redis closed on restart), then the
caller answers 503 and Knox resends later; a request never hangs on a Redis that is
down. ``redis`` is imported here, and only when Redis is used."""

from __future__ import annotations

import asyncio
from typing import Any


def connect(url: str, timeout: float, *, decode_responses: bool = False) -> Any:
    """A blocking ``redis.Redis`` for ``url`` (start-up checks, worker threads)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
        decode_responses=decode_responses,
    )


class LoopClient:
    """A ``redis.asyncio`` client for the running event loop, made on first use (a
    client belongs to the loop it first ran on: a new loop gets a new one)."""

    def __init__(self, url: str, timeout: float, *, decode_responses: bool = False) -> None:
        self.url, self.timeout, self.decode_responses = url, timeout, decode_responses
        self._made: tuple[asyncio.AbstractEventLoop, Any] | None = None

    def get(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._made is None or self._made[0] is not loop:
            import redis.asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            client = redis.asyncio.Redis.from_url(
                self.url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry=Retry(NoBackoff(), 1),
                decode_responses=self.decode_responses,
                **_hiredis_packing(self.url),
            )
            self._made = (loop, client)
        return self._made[1]

    @property
    def made(self) -> bool:
        return self._made is not None

    async def aclose(self) -> None:
        if self._made is not None:
            client, self._made = self._made[1], None
            await client.aclose()


def _hiredis_packing(url: str) -> dict[str, Any]:
    """``connection_class`` for a redis.asyncio client that packs commands with hiredis'
    C packer, as redis-py's blocking client already does (its asyncio client packs in
    Python: a twentieth of the receiver's CPU per callback on the Redis store). Nothing
    (redis-py's own) without hiredis."""
    try:
        import hiredis
    except ImportError:
        return {}
    from urllib.parse import urlsplit

    from redis.asyncio.connection import Connection, SSLConnection

    base = SSLConnection if urlsplit(url).scheme == "rediss" else Connection

    class Packed(base):  # type: ignore[valid-type,misc]
        def pack_command(self, *args: Any) -> list[bytes]:
            # "SCRIPT LOAD": the words of the name go apart, as redis-py's packer does
            if isinstance(args[0], str | bytes) and len(words := args[0].split()) > 1:
                args = (*words, *args[1:])
            return [hiredis.pack_command(args)]

    return {"connection_class": Packed}

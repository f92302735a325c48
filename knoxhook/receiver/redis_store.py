"""The replay store on Redis, shared by every replica of the receiver (issue 13.1).

The same two-phase ``ReplayStore`` as ``knoxhook.receiver.nonces`` (read it first), on
one Redis server, so N ``listen`` processes behind a load balancer refuse a replay that
any of them has seen:

- ``claim``: one Lua script (atomic on the server) checks every key of the callback
  (``knoxhook:nonce:<nonce>``, ``knoxhook:sig:<sha256 of the signature>``) and, only when
  all are free, sets each to ``in-progress <token>`` with ``PX`` = the claim TTL: all
  or nothing, as ``SET key NX PX`` on each key under one lock would. A claim whose
  process died expires by itself after its TTL (an orphan is no replay);
- ``finish``: ``done <token>`` with ``PX`` = the replay window, on the keys still ours
  (or expired: the callback was kept, so it is remembered anyway);
- ``release``: deletes only the keys still ``in-progress`` with our token, so a slow
  request never frees a claim somebody else has made since.

The receiver sends the calls waiting at one moment in one pipeline (``run_batch``,
``knoxhook.receiver.storecalls``): one round trip, each script still atomic. Each script
is idempotent for its token, so redis-py may send it again after a dropped
connection without turning our own claim into "in progress". Expiry is Redis's clock
(``PX``): the ``now`` arguments of the protocol are not used, and ``prune`` has nothing
to do. Any Redis error (unreachable, timeout, auth, read-only replica) becomes
``StoreUnavailableError``, which the receiver answers 503 with ``Retry-After``: never 200
without a claim, never a replay accepted.

Keys of one callback must live on one server: a single Redis (or a primary with
replicas and Sentinel); Redis Cluster is not supported. ``redis`` is imported here
only, so ``listen --help`` never loads it.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from knoxhook.httptrace import redact_url
from knoxhook.receiver.nonces import (
    CLAIM_TTL,
    DEFAULT_WINDOW,
    Claim,
    Outcome,
    check_and_remember,
    keys_for,
)
from knoxhook.receiver.nonces import StoreUnavailableError as StoreUnavailableError
from knoxhook.receiver.redisconn import LoopClient, connect

PREFIX: Final = "knoxhook:"
SCHEMES: Final = ("redis", "rediss")
PENDING: Final = "in-progress "
DONE: Final = "done "

# KEYS: the callback's keys; ARGV[1]: our pending value; ARGV[2]: the TTL in ms.
# Returns {} when claimed, else the value held under each key ("" when free).
_CLAIM: Final = """
local held, busy = {}, false
for i, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value and value ~= ARGV[1] then busy = true; held[i] = value else held[i] = '' end
end
if busy then return held end
for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'PX', ARGV[2]) end
return {}
"""
# ARGV[1]: our pending value; ARGV[2]: our done value; ARGV[3]: the window in ms.
_FINISH: Final = """
for _, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if not value or value == ARGV[1] or value == ARGV[2] then
    redis.call('SET', key, ARGV[2], 'PX', ARGV[3])
  end
end
return 0
"""
# ARGV[1]: our pending value.
_RELEASE: Final = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0
"""


def _token() -> str:
    """A claim's token, unique to one claim on every replica: a random part drawn once
    per process (and again after a fork) and a counter."""
    return f"{_TOKEN_PREFIX[0]}{next(_TOKEN_COUNTER):x}"


def _new_token_prefix() -> None:
    _TOKEN_PREFIX[0] = secrets.token_hex(12) + "."


_TOKEN_PREFIX: list[str] = [""]
_TOKEN_COUNTER = itertools.count()
_new_token_prefix()
os.register_at_fork(after_in_child=_new_token_prefix)


def _redis_key(key: str) -> str:
    """``n:<nonce>`` / ``s:<digest>`` (``nonces.keys_for``) as a prefixed Redis key."""
    kind, _, value = key.partition(":")
    return PREFIX + ("nonce:" if kind == "n" else "sig:") + value


def _millis(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisNonceStore:
    """Two-phase claims in Redis (``redis://`` or ``rediss://`` URL); see the module."""

    def __init__(
        self, url: str, window_seconds: float = DEFAULT_WINDOW, *, timeout: float = 2.0
    ) -> None:
        import redis

        if urlsplit(url).scheme not in SCHEMES:
            raise ValueError(f"not a redis:// or rediss:// URL: {redact_url(url)}")
        self.url = url
        self.window = window_seconds
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._redis: Any = connect(url, timeout, decode_responses=True)
        self._loop_client = LoopClient(url, timeout, decode_responses=True)

    def _unavailable(self, exc: Exception) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"the replay store {redact_url(self.url)} is unavailable: {exc}",
            hint="is Redis running and reachable? Knox's resend will be accepted once it is",
        )

    def claim(
        self, nonce: str | None, signature: str | None, now: float, ttl: float = CLAIM_TTL
    ) -> Claim:
        result: Claim = self._one("claim", (nonce, signature, now, ttl))
        return result

    def finish(self, claim: Claim, now: float) -> None:
        self._one("finish", (claim, now))

    def release(self, claim: Claim) -> None:
        self._one("release", (claim,))

    def _one(self, name: str, args: tuple[Any, ...]) -> Any:
        """One call, as a batch of one (the same NOSCRIPT handling); its error raised."""
        (result,) = self.run_batch([(name, args)])
        if isinstance(result, Exception):
            raise result
        return result

    def run_batch(self, calls: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """Group commit (``knoxhook.receiver.storecalls``): ``claim``/``finish``/``release``
        calls (name, arguments) sent in one pipeline, one round trip; each script stays
        atomic on its own. Their results (an exception object for a call Redis refused);
        ``StoreUnavailableError`` for all when the round trip fails."""
        plans = [self._plan(name, args) for name, args in calls]

        def send() -> list[Any]:
            pipe = self._redis.pipeline(transaction=False)
            _queue(pipe, plans)
            replies: list[Any] = pipe.execute(raise_on_error=False)
            return replies

        try:
            replies = send()
            if _script_missing(replies):  # a restarted or flushed Redis: load, send again
                for source in _SCRIPTS.values():
                    self._redis.script_load(source)
                replies = send()
        except self._errors as exc:
            raise self._unavailable(exc) from exc
        return self._results(plans, replies)

    async def run_batch_async(self, calls: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """``run_batch`` on the event loop (redis.asyncio: no worker thread), on a client
        of the running loop's own."""
        client = self._loop_client.get()
        plans = [self._plan(name, args) for name, args in calls]

        async def send() -> list[Any]:
            pipe = client.pipeline(transaction=False)
            _queue(pipe, plans)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
            return replies

        try:
            replies = await send()
            if _script_missing(replies):
                for source in _SCRIPTS.values():
                    await client.script_load(source)
                replies = await send()
        except self._errors as exc:
            raise self._unavailable(exc) from exc
        return self._results(plans, replies)

    def _results(self, plans: list[_Plan], replies: Sequence[Any]) -> list[Any]:
        """Each call's result from the pipeline's replies, in order: a
        ``StoreUnavailableError`` object for a call Redis refused or answered oddly."""
        sent = iter(replies)
        results: list[Any] = []
        for plan in plans:
            reply = next(sent) if plan.script is not None else None
            if isinstance(reply, Exception):
                results.append(self._unavailable(reply))
                continue
            try:
                results.append(plan.then(reply))
            except StoreUnavailableError as exc:
                results.append(exc)
        return results

    async def aclose(self) -> None:
        """Close the event loop's client (the receiver's lifespan, on shutdown)."""
        await self._loop_client.aclose()

    def _plan(self, name: str, args: tuple[Any, ...]) -> _Plan:
        """One call as a script, its keys and arguments, and what to make of the reply."""
        if name == "claim":
            nonce, signature, _, ttl = (*args, CLAIM_TTL)[:4]
            keys = keys_for(nonce, signature)
            if not keys:
                return _Plan(None, [], [], lambda _: Claim(Outcome.CLAIMED))
            token = _token()
            return _Plan(
                "claim",
                [_redis_key(k) for k in keys],
                [PENDING + token, _millis(ttl)],
                lambda held: _claimed(keys, token, held),
            )
        claim: Claim = args[0]
        if not claim.keys:
            return _Plan(None, [], [], lambda _: None)
        held = [_redis_key(k) for k in claim.keys]
        if name == "finish":
            values = [PENDING + claim.owner, DONE + claim.owner, _millis(self.window)]
            return _Plan("finish", held, values, lambda _: None)
        return _Plan("release", held, [PENDING + claim.owner], lambda _: None)

    def check_and_remember(self, nonce: str, now: float | None = None) -> bool:
        return check_and_remember(self, nonce, now)

    def forget(self, nonce: str) -> None:
        try:
            self._redis.delete(_redis_key("n:" + nonce))
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    def prune(self, now: float) -> int:
        """Nothing to do: Redis expires the keys itself (``PX``)."""
        return 0

    def ping(self) -> None:
        try:
            self._redis.ping()
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    def close(self) -> None:
        self._redis.close()


_SCRIPTS: Final = {"claim": _CLAIM, "finish": _FINISH, "release": _RELEASE}
_SHAS: Final = {
    name: hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
    for name, source in _SCRIPTS.items()
}


def _queue(pipe: Any, plans: list[_Plan]) -> None:
    """Each plan as an ``EVALSHA`` on ``pipe``. Not through redis-py's ``Script`` objects:
    on a pipeline those cost a ``SCRIPT EXISTS`` round trip before every batch."""
    for plan in plans:
        if plan.script is not None:
            pipe.evalsha(_SHAS[plan.script], len(plan.keys), *plan.keys, *plan.args)


def _script_missing(replies: Sequence[Any]) -> bool:
    from redis.exceptions import NoScriptError

    return any(isinstance(reply, NoScriptError) for reply in replies)


@dataclass(frozen=True)
class _Plan:
    script: str | None  # the name of the script to run ("claim"...), or None: nothing
    keys: list[str]
    args: list[object]
    then: Callable[[Any], Any]  # the reply -> the call's result


def _claimed(keys: tuple[str, ...], token: str, held: Any) -> Claim:
    """A claim script's reply as a ``Claim``: {} claimed, else the value of each key."""
    if not held:
        return Claim(Outcome.CLAIMED, keys, token)
    for key, value in zip(keys, held, strict=True):
        if value.startswith(PENDING):
            return Claim(Outcome.IN_PROGRESS, keys)
        if value:
            kind = Outcome.REPLAYED_NONCE if key.startswith("n:") else Outcome.REPLAYED_SIGNATURE
            return Claim(kind, keys)
    raise StoreUnavailableError(f"the replay store answered {held!r} to a claim")

"""Verify Knox callbacks inside your own Starlette or FastAPI app.

Two ways, both built on ``knoxhook.verify_callback`` and both reading the request the
way ``knoxhook listen`` does (``knoxhook.receiver.body``): the body under the size limit
while it streams, and a repeated ``X-WSM-SIGNATURE`` or ``x-knox-nonce`` refused
(``duplicate_header``).

A helper, for one endpoint::

    from knoxhook.receiver.asgi import verify_request
    from knoxhook.receiver.nonces import SqliteNonceStore

    CERTS = [open("knox-validation.pem", "rb").read()]
    NONCES = SqliteNonceStore("nonces.sqlite3")

    async def knox_callback(request):                 # a Starlette/FastAPI endpoint
        callback = await verify_request(request, CERTS, nonce_store=NONCES)
        ...                                           # raises CallbackVerificationError
        return JSONResponse({"ok": True})

A middleware, for whole paths: refused callbacks never reach your app (they get a 4xx
JSON answer, as from ``knoxhook listen``); accepted ones do, with the verified callback
in ``request.state.knox_callback``::

    app.add_middleware(KnoxCallbackVerifier, certificates=CERTS, paths=["/knox"],
                       nonce_store=NONCES)

The middleware claims the nonce and signature in two phases: when your app raises or
answers 5xx the claim is released, so Knox's resend is accepted; otherwise it is kept
for the replay window. ``verify_request`` cannot see your answer: it claims for good.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from knoxhook import jsonline
from knoxhook.errors import CallbackVerificationError
from knoxhook.receiver.body import Disconnected, ReadTimeout, read_body, scan_headers
from knoxhook.receiver.nonces import CLAIM_TTL, Claim, Outcome, ReplayStore
from knoxhook.receiver.verdict import status_for
from knoxhook.signature import (
    MAX_BODY_BYTES,
    Certificates,
    Reason,
    VerifiedCallback,
    verify_callback,
)

_REPLAYS = {
    Outcome.REPLAYED_NONCE: (Reason.REPLAYED_NONCE, "the nonce was already seen (a replay)"),
    Outcome.REPLAYED_SIGNATURE: (
        Reason.REPLAYED_SIGNATURE,
        "this signature was already seen under another nonce (a replay)",
    ),
}


def _claim(store: ReplayStore, callback: VerifiedCallback, ttl: float = CLAIM_TTL) -> Claim:
    """Claim the callback's nonce and signature; refuse a replay. An in-progress claim
    is refused as a replay too: the library has no retryable answer to give."""
    claim = store.claim(callback.nonce, callback.signature_sha256 or None, time.time(), ttl)
    if claim.outcome in _REPLAYS:
        reason, why = _REPLAYS[claim.outcome]
        raise CallbackVerificationError(reason, why)
    if claim.outcome is Outcome.IN_PROGRESS:
        why = "the same callback is being handled right now"
        raise CallbackVerificationError(Reason.REPLAYED_NONCE, why)
    return claim


async def verify_request(
    request: Request,
    certificates: Certificates,
    *,
    nonce_store: ReplayStore | None = None,
    require_nonce: bool = True,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> VerifiedCallback:
    """Read ``request``'s body (refused past ``max_body_bytes`` while it streams) and
    verify it; raises ``CallbackVerificationError``."""
    headers, _, problem = scan_headers(request.scope["headers"])
    if problem is not None:
        raise problem
    try:
        body = await read_body(request.receive, max_body_bytes)
    except (Disconnected, ReadTimeout) as exc:
        raise CallbackVerificationError(Reason.BODY_NOT_JSON, "the body did not arrive") from exc
    callback = verify_callback(
        body,
        headers,
        certificates,
        require_nonce=require_nonce,
        max_body_bytes=max_body_bytes,
    )
    if nonce_store is not None:
        nonce_store.finish(_claim(nonce_store, callback), time.time())
    return callback


class KnoxCallbackVerifier:
    """ASGI middleware: verify every POST to ``paths`` before the app sees it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        certificates: Certificates,
        paths: Iterable[str] = ("/",),
        nonce_store: ReplayStore | None = None,
        require_nonce: bool = True,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.certificates = certificates
        self.paths = frozenset(paths)
        self.nonce_store = nonce_store
        self.require_nonce = require_nonce
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        try:
            headers, _, problem = scan_headers(scope["headers"])
            if problem is not None:
                raise problem
            body = await read_body(receive, self.max_body_bytes)
            verified = verify_callback(
                body,
                headers,
                self.certificates,
                require_nonce=self.require_nonce,
                max_body_bytes=self.max_body_bytes,
            )
            store = self.nonce_store
            claim = _claim(store, verified) if store is not None else None
        except (Disconnected, ReadTimeout):
            return
        except CallbackVerificationError as exc:
            await _answer(send, exc.reason, exc.message)
            return
        scope.setdefault("state", {})["knox_callback"] = verified
        await self._call_app(scope, receive, send, body, claim)

    async def _call_app(
        self, scope: Scope, receive: Receive, send: Send, body: bytes, claim: Claim | None
    ) -> None:
        """Run the app on the buffered body; keep the claim unless it fails (5xx)."""
        replayed = False
        status = 500

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, replay, watch)
        finally:
            if claim is not None and self.nonce_store is not None:
                if status < 500:
                    self.nonce_store.finish(claim, time.time())
                else:
                    self.nonce_store.release(claim)


async def _answer(send: Send, reason: str, message: str) -> None:
    payload: dict[str, Any] = {"status": "rejected", "reason": str(reason), "message": message}
    content = jsonline.dumps(payload)
    await send(
        {
            "type": "http.response.start",
            "status": status_for(reason),
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})

"""Verify Knox callbacks inside your own Starlette or FastAPI app.

Two ways, both built on ``knoxhook.verify_callback``.

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
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from knoxhook.errors import CallbackVerificationError
from knoxhook.receiver.app import status_for
from knoxhook.signature import (
    MAX_BODY_BYTES,
    Certificates,
    NonceStore,
    Reason,
    VerifiedCallback,
    verify_callback,
)


async def verify_request(
    request: Request,
    certificates: Certificates,
    *,
    nonce_store: NonceStore | None = None,
    require_nonce: bool = True,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> VerifiedCallback:
    """Read ``request``'s body and verify it; raises ``CallbackVerificationError``."""
    body = await request.body()
    return verify_callback(
        body,
        request.headers,
        certificates,
        nonce_store=nonce_store,
        require_nonce=require_nonce,
        max_body_bytes=max_body_bytes,
    )


class KnoxCallbackVerifier:
    """ASGI middleware: verify every POST to ``paths`` before the app sees it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        certificates: Certificates,
        paths: Iterable[str] = ("/",),
        nonce_store: NonceStore | None = None,
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
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await _answer(send, Reason.BODY_TOO_LARGE, "the body is over the size limit")
                return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            verified = verify_callback(
                body,
                headers,
                self.certificates,
                nonce_store=self.nonce_store,
                require_nonce=self.require_nonce,
                max_body_bytes=self.max_body_bytes,
            )
        except CallbackVerificationError as exc:
            await _answer(send, exc.reason, exc.message)
            return
        scope.setdefault("state", {})["knox_callback"] = verified
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _answer(send: Send, reason: str, message: str) -> None:
    payload: dict[str, Any] = {"status": "rejected", "reason": str(reason), "message": message}
    content = json.dumps(payload).encode()
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

"""Verifying callbacks inside a user's own Starlette app: middleware and helper."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from knoxhook.errors import CallbackVerificationError
from knoxhook.receiver.asgi import KnoxCallbackVerifier, verify_request
from knoxhook.receiver.nonces import MemoryNonceStore
from knoxhook.serving import serve_in_thread
from tests.receiver.signing import Signer


def test_middleware_lets_only_verified_callbacks_reach_the_app(knox: Signer) -> None:
    reached: list[dict[str, Any]] = []

    async def hook(request: Request) -> JSONResponse:
        callback = request.state.knox_callback
        reached.append({"body": await request.body(), "event": callback.event})
        return JSONResponse({"handled": callback.nonce})

    async def other(request: Request) -> JSONResponse:
        return JSONResponse({"other": True})

    app = Starlette(
        routes=[Route("/knox", hook, methods=["POST"]), Route("/other", other, methods=["POST"])],
        middleware=[
            Middleware(
                KnoxCallbackVerifier,
                certificates=[knox.pem],
                paths=["/knox"],
                nonce_store=MemoryNonceStore(),
            )
        ],
    )
    body, headers = knox.callback(nonce="m-1")
    with (
        serve_in_thread(app) as server,
        httpx2.Client(base_url=server.base_url, timeout=10) as http,
    ):
        ok = http.post("/knox", content=body, headers=headers)
        replay = http.post("/knox", content=body, headers=headers)
        forged = http.post("/knox", content=body.replace(b"1", b"2"), headers=headers)
        untouched = http.post("/other", content=b"anything")
    assert (ok.status_code, ok.json()) == (200, {"handled": "m-1"})
    assert (replay.status_code, replay.json()["reason"]) == (409, "replayed_nonce")
    assert (forged.status_code, forged.json()["reason"]) == (400, "bad_signature")
    assert untouched.json() == {"other": True}
    assert reached == [{"body": body, "event": "KDMS_DEVICE_UPLOAD"}]


def test_verify_request_helper_in_an_endpoint(knox: Signer) -> None:
    async def hook(request: Request) -> JSONResponse:
        try:
            callback = await verify_request(request, [knox.cert], require_nonce=False)
        except CallbackVerificationError as exc:
            return JSONResponse({"reason": exc.reason}, status_code=400)
        return JSONResponse({"event": callback.event, "form": callback.form})

    app = Starlette(routes=[Route("/", hook, methods=["POST"])])
    body, headers = knox.callback(compact=True, padded=False, detached=False)
    with (
        serve_in_thread(app) as server,
        httpx2.Client(base_url=server.base_url, timeout=10) as http,
    ):
        ok = http.post("/", content=body, headers=headers)
        bad = http.post("/", content=body, headers={"X-WSM-SIGNATURE": "x.y"})
    assert ok.json() == {"event": "KDMS_DEVICE_UPLOAD", "form": "compact-json/unpadded/attached"}
    assert (bad.status_code, bad.json()) == (400, {"reason": "malformed_signature_header"})


def _middleware_app(knox: Signer, store: MemoryNonceStore, fail: list[bool]) -> Starlette:
    async def hook(request: Request) -> JSONResponse:
        if fail and fail.pop(0):
            return JSONResponse({"app": "down"}, status_code=503)
        return JSONResponse({"handled": request.state.knox_callback.nonce})

    return Starlette(
        routes=[Route("/knox", hook, methods=["POST"])],
        middleware=[
            Middleware(
                KnoxCallbackVerifier,
                certificates=[knox.pem],
                paths=["/knox"],
                nonce_store=store,
                max_body_bytes=2000,
            )
        ],
    )


def test_middleware_releases_the_claim_when_the_app_fails_so_the_resend_is_accepted(
    knox: Signer,
) -> None:
    store = MemoryNonceStore()
    body, headers = knox.callback(nonce="mw-retry")
    with (
        serve_in_thread(_middleware_app(knox, store, [True])) as server,
        httpx2.Client(base_url=server.base_url, timeout=10) as http,
    ):
        failed = http.post("/knox", content=body, headers=headers)
        resent = http.post("/knox", content=body, headers=headers)
        replay = http.post("/knox", content=body, headers=headers)
    assert failed.status_code == 503
    assert (resent.status_code, resent.json()) == (200, {"handled": "mw-retry"})
    assert (replay.status_code, replay.json()["reason"]) == (409, "replayed_nonce")


def test_middleware_and_helper_refuse_duplicate_headers_and_oversized_bodies(
    knox: Signer,
) -> None:
    async def helper(request: Request) -> JSONResponse:
        try:
            callback = await verify_request(request, [knox.cert], max_body_bytes=2000)
        except CallbackVerificationError as exc:
            return JSONResponse({"reason": exc.reason}, status_code=400)
        return JSONResponse({"event": callback.event})

    app = _middleware_app(knox, MemoryNonceStore(), [])
    app.router.routes.append(Route("/helper", helper, methods=["POST"]))
    body, headers = knox.callback(nonce="dup")
    two_nonces = [*headers.items(), ("x-knox-nonce", "other")]
    big, big_headers = knox.callback(payload={"blob": "z" * 5000})

    def chunks() -> Iterator[bytes]:  # streamed: the limit applies before it is all read
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    with (
        serve_in_thread(app) as server,
        httpx2.Client(base_url=server.base_url, timeout=10) as http,
    ):
        answers = {
            path: [
                http.post(path, content=body, headers=two_nonces),
                http.post(path, content=chunks(), headers=big_headers),
                http.post(path, content=body, headers=headers),
            ]
            for path in ("/knox", "/helper")
        }
    knox_path = answers["/knox"]
    assert [(a.status_code, a.json().get("reason")) for a in knox_path] == [
        (400, "duplicate_header"),
        (413, "body_too_large"),
        (200, None),
    ]
    helper_path = answers["/helper"]
    assert [(a.status_code, a.json().get("reason")) for a in helper_path] == [
        (400, "duplicate_header"),
        (400, "body_too_large"),
        (200, None),
    ]

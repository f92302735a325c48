"""The callback receiver: a Starlette app that verifies every Knox callback.

``create_receiver(certificates, nonce_store=...)`` answers each ``POST`` to ``path``:

- ``200`` ``{"status": "accepted", ...}`` only when ``verify_callback`` accepts it;
- ``409`` ``{"status": "rejected", "reason": "replayed_nonce", ...}`` for a replay;
- ``413`` for a body over the size limit (``body_too_large``);
- ``503`` when the receiver has no usable certificate (``no_certificate``: our fault,
  so a retry by Knox may succeed once it has one);
- ``400`` for every other refusal (malformed header, bad signature, expired
  certificate, body not JSON, missing nonce...), the reason in the JSON body.

Samsung's sample receiver answers 500 when verification fails [doc]; a 5xx invites the
sender to retry, and retrying a forgery or a replay is pointless, so knoxhook answers
4xx (docs/callbacks.md). ``GET path`` answers ``200 {"status": "ready"}`` (a probe).

Certificate rotation: when a callback fails as ``bad_signature`` or
``certificate_expired`` and the certificate provider can refresh (re-download), the
receiver refreshes once (at most every ``refresh_interval`` seconds, so a flood of
forgeries cannot make it hammer Knox) and verifies again; the verdict carries the old
and new fingerprints.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography import x509
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from knoxhook import wire
from knoxhook.errors import CallbackVerificationError, KnoxhookError
from knoxhook.receiver.recorder import NdjsonRecorder
from knoxhook.signature import (
    MAX_BODY_BYTES,
    NonceStore,
    Reason,
    VerifiedCallback,
    trusted_keys,
    verify_callback,
)

REDACTED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
STATUS_FOR: dict[str, int] = {
    Reason.REPLAYED_NONCE: 409,
    Reason.BODY_TOO_LARGE: 413,
    Reason.NO_CERTIFICATE: 503,
}
ROTATION_REASONS = frozenset({Reason.BAD_SIGNATURE, Reason.CERTIFICATE_EXPIRED})


def status_for(reason: str) -> int:
    """The HTTP status answered for a refusal ``reason`` (400 unless listed above)."""
    return STATUS_FOR.get(reason, 400)


class CertificatesProvider(Protocol):
    """Where the receiver gets its trusted certificates (``knoxhook.receiver.certificates``)."""

    refreshable: bool

    def current(self) -> list[x509.Certificate]: ...

    def refresh(self) -> list[x509.Certificate]: ...


@dataclass
class Verdict:
    """What happened to one callback: the recorded line, and what ``on_callback`` gets."""

    received_at: str
    verdict: str  # "accepted" | "rejected"
    status: int
    reason: str | None
    message: str | None
    event: str | None = None
    subscription_id: str | None = None
    nonce: str | None = None
    trace_id: str | None = None
    form: str | None = None
    certificate: str | None = None
    forward: dict[str, Any] | None = None
    rotation: dict[str, list[str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    body_base64: str | None = None

    @property
    def accepted(self) -> bool:
        return self.verdict == "accepted"

    def to_json(self) -> dict[str, Any]:
        record = {
            "received_at": self.received_at,
            "verdict": self.verdict,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "event": self.event,
            "subscriptionId": self.subscription_id,
            "nonce": self.nonce,
            "trace_id": self.trace_id,
            "form": self.form,
            "certificate_sha256": self.certificate,
            "forward": self.forward,
            "rotation": self.rotation,
            "headers": self.headers,
            "body": self.body,
        }
        if self.body_base64 is not None:
            record["body_base64"] = self.body_base64
        return record


class StaticCertificates:
    """A fixed list of trusted certificates (``listen --cert``); cannot refresh."""

    refreshable = False

    def __init__(self, certificates: Sequence[x509.Certificate]) -> None:
        self._certs = list(certificates)

    def current(self) -> list[x509.Certificate]:
        return self._certs

    def refresh(self) -> list[x509.Certificate]:
        return self._certs


def _fingerprints(certs: Sequence[x509.Certificate]) -> list[str]:
    return [k.fingerprint for k in trusted_keys(certs)]


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None once it grows past ``limit`` (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _handed_on(forward: dict[str, Any]) -> bool:
    """Did the app take the callback? A connection error or a 5xx means no; a 4xx is the
    app's own refusal of a genuine callback, which a resend would not change."""
    status = forward.get("status")
    return status is not None and status < 500


def create_receiver(
    certificates_provider: CertificatesProvider,
    *,
    path: str = "/",
    nonce_store: NonceStore,
    recorder: NdjsonRecorder | None = None,
    forward_to: str | None = None,
    on_callback: Callable[[Verdict], None] | None = None,
    require_nonce: bool = True,
    max_body_bytes: int = MAX_BODY_BYTES,
    refresh_interval: float = 300.0,
    forward_timeout: float = 10.0,
) -> Starlette:
    """The receiver app; see the module docstring for what it answers."""
    last_refresh = [float("-inf")]
    forwarder: list[Any] = []  # one httpx2.AsyncClient, made on first use

    def check(body: bytes, request: Request) -> VerifiedCallback:
        return verify_callback(
            body,
            request.headers,
            certificates_provider.current(),
            nonce_store=nonce_store,
            require_nonce=require_nonce,
            max_body_bytes=max_body_bytes,
        )

    async def rotate(verdict: Verdict, body: bytes, request: Request) -> VerifiedCallback | None:
        """Refresh the certificates once and verify again; None if still refused."""
        if time.monotonic() - last_refresh[0] < refresh_interval:
            return None
        last_refresh[0] = time.monotonic()
        old = _fingerprints(certificates_provider.current())
        try:
            new_certs = await run_in_threadpool(certificates_provider.refresh)
        except KnoxhookError as exc:
            verdict.rotation = {"old": old, "new": [], "error": [exc.message]}
            return None
        verdict.rotation = {"old": old, "new": _fingerprints(new_certs)}
        if verdict.rotation["new"] == old:
            return None
        return check(body, request)

    async def forward(body: bytes, request: Request, form: str) -> dict[str, Any]:
        import httpx2

        if not forwarder:
            forwarder.append(httpx2.AsyncClient(timeout=forward_timeout))
        headers = {"Content-Type": request.headers.get("content-type", wire.CALLBACK_CONTENT_TYPE)}
        for name in (wire.H_SIGNATURE, wire.H_TRACE_ID, wire.H_NONCE):
            if name in request.headers:
                headers[name] = request.headers[name]
        headers["X-Knoxhook-Verified"] = form
        try:
            response = await forwarder[0].post(forward_to, content=body, headers=headers)
        except httpx2.HTTPError as exc:
            return {"url": forward_to, "status": None, "error": f"{type(exc).__name__}: {exc}"}
        return {"url": forward_to, "status": response.status_code, "error": None}

    async def receive(request: Request) -> Response:
        received_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        body = await _read_body(request, max_body_bytes)
        headers = {
            k: ("[redacted]" if k in REDACTED_HEADERS else v) for k, v in request.headers.items()
        }
        text = (body or b"").decode("utf-8", "replace")
        verdict = Verdict(received_at, "rejected", 400, None, None, headers=headers, body=text)
        if body is not None and text.encode("utf-8") != body:
            import base64

            verdict.body_base64 = base64.b64encode(body).decode("ascii")
        verdict.nonce = request.headers.get(wire.H_NONCE)
        verdict.trace_id = request.headers.get(wire.H_TRACE_ID)
        result = None
        try:
            if body is None:
                raise CallbackVerificationError(
                    Reason.BODY_TOO_LARGE, f"the body is over the limit of {max_body_bytes} bytes"
                )
            try:
                result = check(body, request)
            except CallbackVerificationError as exc:
                if not (certificates_provider.refreshable and exc.reason in ROTATION_REASONS):
                    raise
                result = await rotate(verdict, body, request)
                if result is None:
                    raise
        except CallbackVerificationError as exc:
            verdict.reason, verdict.message = str(exc.reason), exc.message
            verdict.status = status_for(exc.reason)
        if result is not None:
            verdict.verdict, verdict.status = "accepted", 200
            verdict.event, verdict.subscription_id = result.event, result.subscription_id
            verdict.nonce, verdict.form = result.nonce, result.form
            verdict.certificate = result.certificate_fingerprint
            if forward_to:
                verdict.forward = await forward(body or b"", request, result.form)
                if not _handed_on(verdict.forward):
                    # Your app did not get it: answer 502 so a sender that retries does,
                    # and release the nonce so that retry is not refused as a replay.
                    verdict.status = 502
                    if verdict.nonce and hasattr(nonce_store, "forget"):
                        nonce_store.forget(verdict.nonce)
        if recorder is not None:
            recorder.record(verdict.to_json())
        if on_callback is not None:
            on_callback(verdict)
        if verdict.accepted:
            answer = {
                "status": "accepted" if verdict.status < 300 else "forward_failed",
                "event": verdict.event,
                "subscriptionId": verdict.subscription_id,
                "nonce": verdict.nonce,
            }
        else:
            answer = {"status": "rejected", "reason": verdict.reason, "message": verdict.message}
        return JSONResponse(answer, status_code=verdict.status)

    async def ready(request: Request) -> Response:
        return JSONResponse({"status": "ready", "receiver": "knoxhook"})

    routes = [Route(path, receive, methods=["POST"]), Route(path, ready, methods=["GET"])]
    return Starlette(routes=routes)

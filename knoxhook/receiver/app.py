"""The callback receiver: an ASGI app that verifies, keeps and hands on Knox callbacks.

``CallbackReceiver(certificates, nonce_store=...)`` answers each ``POST`` to ``path``
(``knoxhook.receiver.verdict`` lists the verdicts):

- ``200`` ``{"status": "accepted", ...}`` only once the callback verified, its nonce
  and signature were claimed, and it was recorded (``recorder``) and handed on
  (``forward_to``): never a 200 for a callback that was not kept;
- ``409`` for a replay (``replayed_nonce``; ``replayed_signature``: the same signature
  under a fresh nonce), ``413`` for a body over the limit, ``400`` for every other
  refusal (malformed header, bad signature, expired certificate, duplicate header...);
- ``503`` (with ``Retry-After``) when the receiver cannot decide or keep it now: the
  replay store is down, the record cannot be written, a certificate refresh is
  throttled or failed, the same callback is being kept by another request, no
  certificate, the outbox or the stream cannot be written. The claim is released, so
  Knox's resend is accepted. ``502`` when the app of a synchronous hand-off
  (``SyncHandoff``) did not take it.

"Handed on" is the ``handoff`` (``knoxhook.receiver.handoff``): committed to the outbox
(delivered to the app afterwards, with retries and dead letters), added to a Redis
Stream, or posted to the app while Knox waits. ``forward_to=URL`` alone is the
synchronous mode; ``listen --forward-to`` makes an ``OutboxHandoff``.

Samsung's sample receiver answers 500 when verification fails [doc]; a 5xx invites the
sender to retry, and retrying a forgery or a replay is pointless, so knoxhook answers
4xx for those and 5xx only for its own trouble (docs/callbacks.md).

``GET path`` and ``GET /healthz`` answer 200 while the process is up; ``GET /readyz``
answers 200 once a certificate is loaded and the store answers, 503 otherwise;
``GET /metrics`` is in the Prometheus text format (``knoxhook.receiver.metrics``).

The lifespan opens the hand-off (the outbox starts its delivery task) and starts the
timers (store pruning, certificate refresh); on shutdown it stops them, drains and
closes the hand-off (bounded), and closes the store and the recorder (the receiver owns
what it is given; closing twice is harmless). Delivery events of the outbox go to
``on_delivery``, and a dead letter is also a record line (``verdict: dead_lettered``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Final

from cryptography import x509
from starlette.types import Receive, Scope, Send

from knoxhook import jsonline
from knoxhook.errors import CallbackVerificationError
from knoxhook.httpoptions import HttpOptions
from knoxhook.receiver.body import Disconnected, ReadTimeout, read_body, scan_headers
from knoxhook.receiver.forwarder import Forwarder, handoff_headers
from knoxhook.receiver.handoff import Handoff, HandoffFailed, Parcel, SyncHandoff
from knoxhook.receiver.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from knoxhook.receiver.metrics import ReceiverMetrics
from knoxhook.receiver.nonces import (
    CLAIM_TTL,
    Claim,
    Outcome,
    ReplayStore,
    StoreUnavailableError,
)
from knoxhook.receiver.recorder import NdjsonRecorder
from knoxhook.receiver.rotation import CertificatesProvider, Refresher
from knoxhook.receiver.storecalls import StoreCalls
from knoxhook.receiver.verdict import RETRY_AFTER, ReceiverReason, Refused, Verdict, status_for
from knoxhook.signature import MAX_BODY_BYTES, Reason, VerifiedCallback, verify_callback
from knoxhook.timestamps import utc_now_text

__all__ = [
    "CallbackReceiver",
    "CertificatesProvider",
    "StaticCertificates",
    "Verdict",
    "create_receiver",
    "status_for",
]

log = logging.getLogger("knoxhook.receiver")
ROTATION_REASONS = frozenset({Reason.BAD_SIGNATURE, Reason.CERTIFICATE_EXPIRED})
PRUNE_EVERY = 60.0  # seconds between two sweeps of expired nonces (off the request path)


class StaticCertificates:
    """A fixed list of trusted certificates (``listen --cert``); cannot refresh."""

    refreshable = False

    def __init__(self, certificates: Sequence[x509.Certificate]) -> None:
        self._certs = list(certificates)

    def current(self) -> list[x509.Certificate]:
        return self._certs

    def refresh(self) -> list[x509.Certificate]:
        return self._certs


_Handler = Callable[[Scope, Receive, Send], Any]  # one route's ASGI handler
_JSON: Final = (b"content-type", b"application/json")
_RETRY: Final = (b"retry-after", RETRY_AFTER.encode())
_READY: Final = jsonline.dumps({"status": "ready", "receiver": "knoxhook"})


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    headers: Sequence[tuple[bytes, bytes]] = (),
    content_type: tuple[bytes, bytes] = _JSON,
) -> None:
    """One whole HTTP answer, straight to the ASGI server."""
    head = [content_type, (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


class CallbackReceiver:
    """The receiver, an ASGI app; see the module docstring for what it answers."""

    def __init__(
        self,
        certificates_provider: CertificatesProvider,
        *,
        path: str = "/",
        nonce_store: ReplayStore,
        recorder: NdjsonRecorder | None = None,
        forward_to: str | None = None,
        handoff: Handoff | None = None,
        on_callback: Callable[[Verdict], None] | None = None,
        on_delivery: Callable[[dict[str, Any]], None] | None = None,
        require_nonce: bool = True,
        strict: bool = False,
        max_body_bytes: int = MAX_BODY_BYTES,
        body_timeout: float = 30.0,
        refresh_interval: float = 300.0,
        refresh_every: float = 6 * 3600.0,
        forward_timeout: float = 10.0,
        http_options: HttpOptions | None = None,
        prune_every: float = PRUNE_EVERY,
    ) -> None:
        self.provider = certificates_provider
        self.store = nonce_store
        self.store_calls = StoreCalls(nonce_store)  # group commit (receiver.storecalls)
        self.recorder = recorder
        if handoff is None and forward_to:
            handoff = SyncHandoff(Forwarder(forward_to, forward_timeout, http_options))
        self.handoff = handoff
        self.on_callback = on_callback
        self.on_delivery = on_delivery
        self.require_nonce = require_nonce
        self.verify_options: dict[str, Any] = {"strict": True} if strict else {}
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.refresher = Refresher(
            certificates_provider, min_interval=refresh_interval, every=refresh_every
        )
        self.prune_every = prune_every
        self.claim_ttl = max(CLAIM_TTL, 3 * forward_timeout)
        self.metrics = ReceiverMetrics()
        self.routes: dict[str, dict[str, _Handler]] = {
            "/healthz": {"GET": self.healthz},
            "/readyz": {"GET": self.readyz},
            "/metrics": {"GET": self.metrics_page},
        }
        self.routes[path] = {"POST": self.receive, "GET": self.healthz}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app: a dict lookup per request (the routes above), no framework on
        the hot path; ``HEAD`` is ``GET``; the lifespan protocol runs ``lifespan``."""
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            root = scope.get("root_path")
            if root and (path == root or path.startswith(root + "/")):  # mounted
                path = path[len(root) :] or "/"
            methods = self.routes.get(path)
            if methods is None:
                await _answer(send, 404, b'{"status":"not_found"}')
                return
            method = scope["method"]
            handler = methods.get("GET" if method == "HEAD" else method)
            if handler is None:
                allow = ", ".join(sorted({*methods, "HEAD"} if "GET" in methods else methods))
                body = b'{"status":"method_not_allowed"}'
                await _answer(send, 405, body, [(b"allow", allow.encode())])
                return
            await handler(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan_protocol(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    # --- lifespan ----------------------------------------------------------------------

    async def _lifespan_protocol(self, receive: Receive, send: Send) -> None:
        """ASGI's lifespan messages around ``lifespan()``, as Starlette's router sends
        them (a failure is reported, then raised)."""
        started = False
        await receive()  # lifespan.startup
        try:
            async with self.lifespan():
                started = True
                await send({"type": "lifespan.startup.complete"})
                await receive()  # lifespan.shutdown
        except BaseException as exc:
            failed = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": failed, "message": repr(exc)})
            raise
        await send({"type": "lifespan.shutdown.complete"})

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        if self.handoff is not None:
            await self.handoff.open(self._delivered)
        timers = [asyncio.create_task(self._prune_loop())]
        if self.provider.refreshable:
            timers.append(asyncio.create_task(self.refresher.run_timer()))
        try:
            yield
        finally:
            for task in timers:
                task.cancel()
            await asyncio.gather(*timers, return_exceptions=True)
            if self.handoff is not None:
                await self.handoff.close()
            await self.store_calls.aclose()
            self.store.close()
            if self.recorder is not None:
                self.recorder.close()

    async def _prune_loop(self) -> None:
        while True:
            await asyncio.sleep(self.prune_every)
            try:
                await asyncio.to_thread(self.store.prune, time.time())
            except StoreUnavailableError as exc:
                log.warning("pruning the replay store failed: %s", exc.message)

    # --- probes ------------------------------------------------------------------------

    async def healthz(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(send, 200, _READY)

    async def metrics_page(self, scope: Scope, receive: Receive, send: Send) -> None:
        stats = None
        if self.handoff is not None:
            with contextlib.suppress(StoreUnavailableError):
                stats = await self.handoff.stats()
        if stats is not None:
            self.metrics.outbox_pending.set(stats.pending)
            self.metrics.outbox_oldest.set(stats.oldest_age)
            self.metrics.dead_letters.set(stats.dead)
        content_type = (b"content-type", METRICS_CONTENT_TYPE.encode())
        await _answer(send, 200, self.metrics.render(), content_type=content_type)

    async def readyz(self, scope: Scope, receive: Receive, send: Send) -> None:
        problems = []
        if not self.provider.current():
            problems.append("no certificate loaded")
        try:
            await asyncio.to_thread(self.store.ping)
        except StoreUnavailableError as exc:
            problems.append(exc.message)
        if problems:
            body = jsonline.dumps({"status": "unavailable", "problems": problems})
            await _answer(send, 503, body)
            return
        await _answer(send, 200, _READY)

    # --- a callback --------------------------------------------------------------------

    async def receive(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One callback, ``POST path``: read, verify, claim, keep, answer."""
        started = time.perf_counter()
        headers, recorded, problem = scan_headers(scope["headers"])
        verdict = Verdict(utc_now_text(), "rejected", 400, None, None, headers=recorded)
        client = scope.get("client")
        verdict.source = client[0] if client else None
        claim: Claim | None = None
        recorded_it = False
        try:
            verdict.raw_body = await read_body(receive, self.max_body_bytes, self.body_timeout)
            if problem is not None:
                raise problem
            verdict.nonce = headers.get("x-knox-nonce")
            verdict.trace_id = headers.get("x-wsm-traceid")
            result = await self._verify(verdict, headers)
            claim = await self._claim(result, verdict)
            await self._hand_off(verdict, result, headers)
            recorded_it = await self._record_kept(verdict)
        except Disconnected:
            log.warning("client %s went away before its request was complete", verdict.source)
            await _answer(send, 400, b"")  # nobody reads it; nothing is recorded
            return
        except ReadTimeout as exc:
            verdict.settle(408, ReceiverReason.READ_TIMEOUT, str(exc))
        except (CallbackVerificationError, Refused) as exc:
            verdict.settle(status_for(exc.reason), str(exc.reason), exc.message)
        except StoreUnavailableError as exc:
            verdict.settle(503, ReceiverReason.STORE_UNAVAILABLE, exc.message)
        await self._settle_claim(claim, verdict)
        if self.recorder and not recorded_it and verdict.reason != ReceiverReason.RECORD_FAILED:
            self._record_refusal(self.recorder, verdict)
        self.metrics.count(verdict.verdict, verdict.reason)
        self.metrics.handling.observe(time.perf_counter() - started)
        self._report(verdict)
        extra = (_RETRY,) if verdict.status == 503 else ()
        await _answer(send, verdict.status, jsonline.dumps(verdict.answer()), extra)

    async def _verify(self, verdict: Verdict, headers: dict[str, str]) -> VerifiedCallback:
        """``verify_callback`` (no nonce store: claims come after), refreshing the
        certificates once when Knox may have rotated its key."""
        generation = self.refresher.generation
        began = time.perf_counter()
        try:
            result = self._check(verdict.raw_body, headers)
        except CallbackVerificationError as exc:
            self.metrics.verify.observe(time.perf_counter() - began)
            if not (self.provider.refreshable and exc.reason in ROTATION_REASONS):
                raise
            refresh = await self.refresher.after_failure(generation)
            self.metrics.refreshes.labels(refresh.outcome).inc()
            if refresh.rotation:
                verdict.rotation = refresh.rotation
            if refresh.outcome == "refreshed":
                return self._check(verdict.raw_body, headers)
            if refresh.outcome == "throttled":
                why = f"{exc.message}; the certificate was downloaded too recently to retry"
                raise Refused(ReceiverReason.REFRESH_THROTTLED, why) from exc
            if refresh.outcome == "failed":
                why = f"{exc.message}; downloading the certificate again failed"
                raise Refused(ReceiverReason.REFRESH_FAILED, why) from exc
            raise
        self.metrics.verify.observe(time.perf_counter() - began)
        return result

    def _check(self, body: bytes, headers: dict[str, str]) -> VerifiedCallback:
        return verify_callback(
            body,
            headers,
            self.provider.current(),
            require_nonce=self.require_nonce,
            max_body_bytes=self.max_body_bytes,
            **self.verify_options,
        )

    async def _claim(self, result: VerifiedCallback, verdict: Verdict) -> Claim:
        verdict.event, verdict.subscription_id = result.event, result.subscription_id
        verdict.nonce, verdict.form = result.nonce, result.form
        verdict.certificate = result.certificate_fingerprint
        claim: Claim = await self.store_calls.run(
            self.store.claim, result.nonce, result.signature_sha256, time.time(), self.claim_ttl
        )
        if claim.outcome is Outcome.IN_PROGRESS:
            why = "the same callback is being kept right now; retry"
            raise Refused(ReceiverReason.IN_PROGRESS, why)
        if claim.outcome is Outcome.REPLAYED_NONCE:
            why = f"nonce {(result.nonce or '')[:64]!r} was already seen (a replay)"
            raise CallbackVerificationError(Reason.REPLAYED_NONCE, why)
        if claim.outcome is Outcome.REPLAYED_SIGNATURE:
            why = "this signature was already seen under another nonce (a replay)"
            raise CallbackVerificationError(Reason.REPLAYED_SIGNATURE, why)
        signed = result.body_is_signed or not result.signed_bytes
        verdict.kept = verdict.raw_body if signed else result.signed_bytes
        verdict.kept_source = "received" if signed else "signed"
        return claim

    async def _hand_off(self, verdict: Verdict, result: VerifiedCallback, headers: Any) -> None:
        """Keep the callback with the hand-off (before the 200); a failure settles the
        verdict (503, or 502 for a synchronous app) and the claim is then released."""
        verdict.settle(200)
        if self.handoff is None:
            return
        assert verdict.kept is not None
        assert verdict.kept_source is not None
        key = result.nonce or "s:" + (result.signature_sha256 or "")
        parcel = Parcel(
            key=key,
            nonce=result.nonce,
            event=result.event,
            subscription_id=result.subscription_id,
            received_at=verdict.received_at,
            body=verdict.kept,
            headers=handoff_headers(headers, result.form, verdict.kept_source, key),
        )
        with self.metrics.forwarding.track_inprogress():
            try:
                verdict.forward = await self.handoff.keep(parcel)
            except HandoffFailed as exc:
                verdict.forward = exc.forward
                verdict.settle(status_for(exc.reason), str(exc.reason), exc.message)

    def _delivered(self, event: dict[str, Any]) -> None:
        """An outbox delivery attempt is over: count it; a dead letter is recorded."""
        self.metrics.deliveries.labels(event["outcome"]).inc()
        if event["outcome"] == "dead_lettered" and self.recorder is not None:
            line = {"recorded_at": utc_now_text(), "verdict": "dead_lettered", **event}
            try:
                self.recorder.record(line)
            except OSError as exc:
                log.warning("the record could not be written: %s", exc.strerror or exc)
        if self.on_delivery is not None:
            try:
                self.on_delivery(event)
            except Exception:  # the hook's bug must not stop deliveries
                log.exception("the on_delivery hook failed")

    async def _record_kept(self, verdict: Verdict) -> bool:
        """Record a verified, claimed callback before it is answered 200 (or 502)."""
        if self.recorder is None:
            return False
        try:
            if self.recorder.never_blocks:
                self.recorder.record(verdict.record_line())
            else:
                await asyncio.to_thread(self.recorder.record, verdict.record_line())
        except OSError as exc:
            why = f"the record could not be written ({exc.strerror or exc}); retry"
            raise Refused(ReceiverReason.RECORD_FAILED, why) from exc
        return True

    async def _settle_claim(self, claim: Claim | None, verdict: Verdict) -> None:
        """Finish the claim of a kept callback; release it otherwise, so a resend is
        accepted. A store failure here cannot change the answer of a kept callback."""
        if claim is None or not claim.claimed:
            return
        settle = self.store.finish if verdict.status == 200 else self.store.release
        args = (claim, time.time()) if verdict.status == 200 else (claim,)
        for attempt in range(2):  # one retry: a dropped connection, a Redis failover
            try:
                await self.store_calls.run(settle, *args)
                return
            except StoreUnavailableError as exc:
                if attempt:
                    log.warning(
                        "replay store: %s; the claim stays in progress until it expires "
                        "(%g s): a resend until then gets 503, one after it is accepted "
                        "again and deduplicated by the outbox (the app's Idempotency-Key "
                        "otherwise)",
                        exc.message,
                        self.claim_ttl,
                    )
                    return
                await asyncio.sleep(0.05)

    def _record_refusal(self, recorder: NdjsonRecorder, verdict: Verdict) -> None:
        """Record a callback that was not kept, best effort (its answer is already 4xx
        or 5xx: a full disk must not turn it into another answer)."""
        try:
            recorder.record(verdict.record_line(), source=verdict.source)
        except OSError as exc:
            log.warning("the record could not be written: %s", exc.strerror or exc)

    def _report(self, verdict: Verdict) -> None:
        """``on_callback``; its failure (a closed stdout...) never changes the answer."""
        if self.on_callback is None:
            return
        try:
            self.on_callback(verdict)
        except Exception:  # a hook's own bug must not turn a kept callback into a 500
            log.exception("the on_callback hook failed")


def create_receiver(
    certificates_provider: CertificatesProvider, **options: Any
) -> CallbackReceiver:
    """``CallbackReceiver(certificates_provider, **options)`` (the older name)."""
    return CallbackReceiver(certificates_provider, **options)

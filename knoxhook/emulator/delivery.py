"""Deliver callbacks: POST the signed body to the subscription's URL, with retries.

A delivery is the body ``{subscriptionId, event, payload}`` (knox-api.md §5) with the
headers ``X-WSM-SIGNATURE``, ``X-WSM-TRACEID``, ``x-knox-nonce`` (fresh per delivery,
the same on each retry of it) and ``Content-Type: application/json``. Only to loopback
addresses unless ``--allow-remote-delivery`` (``egress.py``). A 2xx answer is a
success; a network error, timeout or any other status is retried with exponential
backoff up to the configured number of retries (Knox's own policy is not documented).
"""

from __future__ import annotations

import contextlib
import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from knoxhook import wire
from knoxhook.emulator import egress
from knoxhook.emulator.certs import CertificateStore
from knoxhook.emulator.signer import sign_document
from knoxhook.emulator.stats import Stats
from knoxhook.httpoptions import HttpOptions
from knoxhook.retry import RetryLater, RetryPolicy, retrying_async
from knoxhook.timestamps import rfc3339

MAX_RECORDS = 1000  # keep the newest, so a long-running emulator stays small
_tls: list[Any] = []  # one TLS context per process: building one costs ~40 ms


def _tls_context() -> Any:
    import httpx2

    if not _tls:
        _tls.append(httpx2.create_ssl_context())
    return _tls[0]


async def _post(
    client: Any, targets: list[egress.Target], body: bytes, headers: dict[str, str]
) -> Any:
    """POST to the first of ``targets`` (the addresses of one URL) that takes a connection."""
    import httpx2

    for target in targets[:-1]:
        try:
            return await client.post(
                target.url,
                content=body,
                headers={**headers, **target.headers},
                extensions=target.extensions,
            )
        except httpx2.ConnectError:
            continue  # nothing was sent: the next address
    last = targets[-1]
    return await client.post(
        last.url, content=body, headers={**headers, **last.headers}, extensions=last.extensions
    )


class _NotDelivered(Exception):
    """An attempt that did not deliver; the delivery record says why."""


class DeliveryLog:
    """The delivery records, newest last; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []

    def add(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._records.append(record)
            del self._records[:-MAX_RECORDS]

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._records]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


class Deliverer:
    """Signs and POSTs callbacks; records each delivery."""

    def __init__(
        self,
        *,
        certs: CertificateStore,
        stats: Stats,
        log: DeliveryLog,
        signing: str,
        timeout: float,
        retries: int,
        backoff: float,
        now: Callable[[], float],
        allow_remote: bool = False,
    ) -> None:
        self.certs = certs
        self.stats = stats
        self.log = log
        self.signing = signing
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.now = now
        self.allow_remote = allow_remote

    async def deliver(
        self,
        subscription: dict[str, Any],
        event: str,
        payload: dict[str, Any],
        trace_id: str | None = None,
        signing: str | None = None,
    ) -> dict[str, Any]:
        """Sign and POST one callback (``signing`` overrides the configured mode)."""
        import httpx2

        mode = signing or self.signing

        signed = sign_document(
            {
                wire.F_CB_SUBSCRIPTION_ID: subscription[wire.F_SUBSCRIPTION_ID],
                wire.F_CB_EVENT: event,
                wire.F_CB_PAYLOAD: payload,
            },
            self.certs.key,
            mode,
        )
        nonce = secrets.token_hex(16)
        trace_id = trace_id or str(uuid.uuid4())
        headers = {
            "Content-Type": wire.CALLBACK_CONTENT_TYPE,
            wire.H_SIGNATURE: signed.signature,
            wire.H_TRACE_ID: trace_id,
            wire.H_NONCE: nonce,
            "User-Agent": "knoxhook-emulator",
        }
        url = subscription[wire.F_URL]
        record: dict[str, Any] = {
            "id": secrets.token_hex(8),
            "event": event,
            "subscriptionId": subscription[wire.F_SUBSCRIPTION_ID],
            "url": url,
            "traceId": trace_id,
            "nonce": nonce,
            "signing": str(mode),
            "status": "failed",
            "httpStatus": None,
            "attempts": 0,
            "latencyMs": None,
            "error": None,
            "createdAt": rfc3339(self.now(), milliseconds=True),
        }
        started = time.perf_counter()
        # One retry loop (retry.py): retry n waits backoff * 2**(n-1), no cap, no jitter.
        policy = RetryPolicy(
            attempts=self.retries + 1, base_delay=self.backoff, max_delay=math.inf, jitter=False
        )

        async def attempt(number: int) -> None:
            try:
                targets = await egress.resolve(url, allow_remote=self.allow_remote)
            except egress.DeliveryRefused as exc:
                record["error"] = str(exc)  # nothing was sent; retrying cannot help
                return
            record["attempts"] = number
            self.stats.bump("delivery_attempts")
            try:
                response = await _post(client, targets, signed.body, headers)
            except httpx2.HTTPError as exc:
                record["httpStatus"] = None
                record["error"] = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                raise RetryLater(_NotDelivered()) from None
            record["httpStatus"] = response.status_code
            if 200 <= response.status_code < 300:
                record["status"] = "delivered"
                record["error"] = None
                return
            record["error"] = f"the receiver answered HTTP {response.status_code}" + _why(response)
            raise RetryLater(_NotDelivered())

        # trust_env=False: no proxy from the environment, so the address checked is the
        # address connected to (egress.py).
        options = HttpOptions(timeout=self.timeout)
        async with options.async_client(verify=_tls_context(), trust_env=False) as client:
            with contextlib.suppress(_NotDelivered):  # the record says why
                await retrying_async(policy, attempt)
        record["latencyMs"] = round((time.perf_counter() - started) * 1000, 3)
        self.stats.bump("deliveries")
        if record["status"] != "delivered":
            self.stats.bump("deliveries_failed")
        self.log.add(record)
        return record


def _why(response: Any) -> str:
    """The receiver's reason, after its status: ``Bad Request: bad_signature (...)`` from
    a knoxhook receiver's JSON, else the start of its body (``trigger`` shows it)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("reason"), str):
        text = body["reason"]
        if isinstance(body.get("message"), str):
            text += f" ({body['message']})"
    else:
        text = response.text.strip()
    text = " ".join(text.split())[:200]
    return f" {response.reason_phrase}: {text}" if text else f" {response.reason_phrase}"

"""Control endpoints under ``/_emulator``: drive the emulator from tests and the CLI.

- ``POST /_emulator/events`` ``{"event", "payload"?, "traceId"?, "signing"?}``: deliver a
  callback to the subscription holding the event (``signing`` overrides the emulator's
  mode for this one); answers the delivery record.
- ``GET``/``DELETE /_emulator/deliveries``: the delivery records, oldest first / forget.
- ``GET /_emulator/stats``, ``POST /_emulator/stats/reset``: counters.
- ``POST /_emulator/faults``, ``GET``/``DELETE`` it: inject, list, clear faults.
- ``GET``/``POST /_emulator/certificate``: describe / re-issue the certificate.
- ``POST /_emulator/reset``: forget all state but the certificate.
- ``GET /_emulator/health``: ``{"status": "ok"}``.

On loopback they need no authentication; off it (``--allow-remote``), the control token.
"""

from __future__ import annotations

import hmac
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from knoxhook import events
from knoxhook.emulator import CONTROL_PREFIX, CONTROL_TOKEN_ENV, CONTROL_TOKEN_HEADER, legacy
from knoxhook.emulator.faults import Fault as PendingFault
from knoxhook.emulator.httputil import json_answer, knox_error
from knoxhook.emulator.models import (
    CertificateInfo,
    CertificateRequest,
    Delivery,
    Fault,
    FaultSpec,
    Health,
    KnoxError,
    Stats,
    TriggerBody,
)
from knoxhook.emulator.routing import Answer, Endpoint


async def trigger(request: Request, body: TriggerBody) -> Response:
    emulator = request.app.state.emulator
    subscription = emulator.store.holder(body.event)
    if subscription is None:
        return knox_error(
            404,
            "SUBSCRIPTION_NOT_FOUND",
            f"no subscription holds event {body.event}; create one first",
        )
    payload = body.payload if body.payload is not None else events.example_payload(body.event)
    record = await emulator.deliverer.deliver(
        subscription, body.event, payload, body.traceId, body.signing
    )
    return json_answer(Delivery.model_validate(record))


async def deliveries(request: Request) -> Response:
    records = request.app.state.emulator.log.all()
    return json_answer([Delivery.model_validate(r) for r in records])


async def clear_deliveries(request: Request) -> Response:
    request.app.state.emulator.log.clear()
    return Response(status_code=204)


async def stats(request: Request) -> Response:
    emulator = request.app.state.emulator
    snapshot = emulator.stats.snapshot()
    snapshot["subscriptions"] = len(emulator.store.all())
    return json_answer(Stats.model_validate(snapshot))


async def stats_reset(request: Request) -> Response:
    request.app.state.emulator.stats.reset()
    return Response(status_code=204)


def _pending(request: Request) -> Response:
    table = request.app.state.emulator.faults
    return json_answer([Fault.model_validate(f) for f in table.pending()])


async def faults(request: Request) -> Response:
    return _pending(request)


async def add_fault(request: Request, body: FaultSpec) -> Response:
    fault = PendingFault(
        path=body.path,
        method=body.method.upper() if body.method else None,
        count=body.count,
        status=body.status,
        retry_after=body.retry_after,
        delay=body.delay,
        drop=body.drop,
        after=body.after,
    )
    request.app.state.emulator.faults.add(fault)
    response = _pending(request)
    response.status_code = 201
    return response


async def clear_faults(request: Request) -> Response:
    request.app.state.emulator.faults.clear()
    return Response(status_code=204)


async def certificate(request: Request) -> Response:
    return json_answer(CertificateInfo.model_validate(request.app.state.emulator.certs.describe()))


async def set_certificate(request: Request, body: CertificateRequest) -> Response:
    described = request.app.state.emulator.certs.apply(body.action)
    return json_answer(CertificateInfo.model_validate(described))


async def reset(request: Request) -> Response:
    """Forget subscriptions, tokens, deliveries, faults and counters (not the certificate)."""
    emulator = request.app.state.emulator
    emulator.store.reset()
    emulator.log.clear()
    emulator.faults.clear()
    emulator.stats.reset()
    legacy.authority_of(request.app).reset()
    return Response(status_code=204)


async def health(request: Request) -> Response:
    return json_answer(Health(status="ok"))


def _token_guard(request: Request) -> Response | None:
    """None when no control token is set (loopback) or the request carries it."""
    token = request.app.state.emulator.config.control_token
    if token is None:
        return None
    sent = request.headers.get(CONTROL_TOKEN_HEADER, "")
    if hmac.compare_digest(sent.encode("utf-8"), token.encode("utf-8")):
        return None
    request.app.state.emulator.stats.bump("unauthorized")
    return knox_error(
        401,
        "UNAUTHORIZED",
        f"this emulator is reachable off loopback: send its control token in "
        f"{CONTROL_TOKEN_HEADER} (printed at start-up; knoxhook's emulator commands read "
        f"{CONTROL_TOKEN_ENV})",
    )


_DONE = {204: Answer("done")}
_BAD = {
    400: Answer("the body is not valid; data says why", KnoxError),
    413: Answer("the body is too large", KnoxError),
}
_NO_TOKEN = {401: Answer("the control token is needed (an emulator off loopback)", KnoxError)}


def _control(
    method: str,
    path: str,
    handler: Any,
    summary: str,
    answers: dict[int, Answer],
    body: Any = None,
) -> Endpoint:
    return Endpoint(
        method, f"{CONTROL_PREFIX}{path}", handler, summary, {**answers, **_NO_TOKEN},
        body=body, guard=_token_guard, security="control",
    )  # fmt: skip


ENDPOINTS: Final = [
    _control("POST", "/events", trigger,
             "Deliver a signed callback to the subscription holding the event",
             {200: Answer("the delivery record", Delivery), **_BAD,
              404: Answer("no subscription holds the event", KnoxError)}, TriggerBody),
    _control("GET", "/deliveries", deliveries, "The delivery records, oldest first",
             {200: Answer("the records", Delivery, many=True)}),
    _control("DELETE", "/deliveries", clear_deliveries, "Forget them", _DONE),
    _control("GET", "/stats", stats, "Counters", {200: Answer("the counters", Stats)}),
    _control("POST", "/stats/reset", stats_reset, "Zero the counters", _DONE),
    _control("GET", "/faults", faults, "Pending faults",
             {200: Answer("pending, first applied first", Fault, many=True)}),
    _control("POST", "/faults", add_fault, "Inject a fault",
             {201: Answer("pending, with the new one last", Fault, many=True), **_BAD},
             FaultSpec),
    _control("DELETE", "/faults", clear_faults, "Clear the faults", _DONE),
    _control("GET", "/certificate", certificate, "Describe the certificate",
             {200: Answer("the certificate served", CertificateInfo)}),
    _control("POST", "/certificate", set_certificate, "Re-issue the certificate",
             {200: Answer("the new certificate", CertificateInfo), **_BAD}, CertificateRequest),
    _control("POST", "/reset", reset,
             "Forget subscriptions, tokens, deliveries, faults, counters", _DONE),
    _control("GET", "/health", health, "Liveness", {200: Answer("alive", Health)}),
]  # fmt: skip

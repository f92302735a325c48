"""Control endpoints under ``/_emulator`` (no auth; the emulator binds loopback).

- ``POST /_emulator/events`` ``{"event", "payload"?, "traceId"?, "signing"?}``: deliver a
  callback to the subscription holding the event (``signing`` overrides the emulator's
  mode for this one); answers the delivery record.
- ``GET /_emulator/deliveries``: the delivery records, oldest first.
- ``GET /_emulator/stats``, ``POST /_emulator/stats/reset``: counters.
- ``POST /_emulator/faults``, ``GET``/``DELETE`` it: inject, list, clear faults.
- ``GET``/``POST /_emulator/certificate``: describe / re-issue the certificate.
- ``POST /_emulator/reset``: forget all state but the certificate.
- ``GET /_emulator/health``: ``{"status": "ok"}``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from knoxhook import events
from knoxhook.emulator import CERT_ACTIONS, SIGNING_MODES, CertAction, legacy
from knoxhook.emulator.faults import parse_fault
from knoxhook.emulator.httputil import BadRequest, knox_error, read_json

_LIMIT = 1_000_000


async def _object(request: Request) -> dict[str, Any]:
    body = await read_json(request, _LIMIT)
    if not isinstance(body, dict):
        raise BadRequest(400, "INVALID_REQUEST_BODY", "the request body must be a JSON object")
    return body


async def trigger(request: Request) -> Response:
    emulator = request.app.state.emulator
    body = await _object(request)
    name = body.get("event")
    if not isinstance(name, str) or not name:
        raise BadRequest(400, "INVALID_EVENTS", "'event' is required (an event name)")
    if name not in events.EVENT_NAMES:
        hint = events.closest(name)
        tail = f"; did you mean {', '.join(hint)}?" if hint else ""
        raise BadRequest(400, "UNKNOWN_EVENT", f"unknown event {name[:100]!r}{tail}")
    payload = body.get("payload")
    if payload is None:
        payload = events.example_payload(name)
    elif not isinstance(payload, dict):
        raise BadRequest(400, "INVALID_REQUEST_BODY", "'payload' must be a JSON object")
    trace_id = body.get("traceId")
    if trace_id is not None and (not isinstance(trace_id, str) or not trace_id.isprintable()):
        raise BadRequest(400, "INVALID_REQUEST_BODY", "'traceId' must be a printable string")
    signing = body.get("signing")
    if signing is not None and signing not in SIGNING_MODES:
        raise BadRequest(
            400, "INVALID_REQUEST_BODY", "'signing' must be one of: " + ", ".join(SIGNING_MODES)
        )
    subscription = emulator.store.holder(name)
    if subscription is None:
        return knox_error(
            404, "SUBSCRIPTION_NOT_FOUND", f"no subscription holds event {name}; create one first"
        )
    record = await emulator.deliverer.deliver(subscription, name, payload, trace_id, signing)
    return JSONResponse(record)


async def deliveries(request: Request) -> Response:
    emulator = request.app.state.emulator
    if request.method == "DELETE":
        emulator.log.clear()
        return Response(status_code=204)
    return JSONResponse(emulator.log.all())


async def stats(request: Request) -> Response:
    emulator = request.app.state.emulator
    snapshot = emulator.stats.snapshot()
    snapshot["subscriptions"] = len(emulator.store.all())
    return JSONResponse(snapshot)


async def stats_reset(request: Request) -> Response:
    request.app.state.emulator.stats.reset()
    return Response(status_code=204)


async def faults(request: Request) -> Response:
    table = request.app.state.emulator.faults
    if request.method == "GET":
        return JSONResponse(table.pending())
    if request.method == "DELETE":
        table.clear()
        return Response(status_code=204)
    body = await read_json(request, _LIMIT)
    try:
        fault = parse_fault(body)
    except ValueError as exc:
        raise BadRequest(400, "INVALID_REQUEST_BODY", str(exc)) from None
    table.add(fault)
    return JSONResponse(table.pending(), status_code=201)


async def certificate(request: Request) -> Response:
    certs = request.app.state.emulator.certs
    if request.method == "GET":
        return JSONResponse(certs.describe())
    body = await _object(request)
    try:
        action = CertAction(str(body.get("action")))
    except ValueError:
        raise BadRequest(
            400, "INVALID_REQUEST_BODY", "'action' must be one of: " + ", ".join(CERT_ACTIONS)
        ) from None
    return JSONResponse(certs.apply(action))


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
    return JSONResponse({"status": "ok"})

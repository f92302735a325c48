"""The KWN Subscription API and the certificate download (knox-api.md §3, §4).

Served under ``/kwn/v1`` and the early-access ``/kcs/kwn/v0.1``. Every call needs a
valid Bearer token. Validation errors are 400 with the documented error body
``{"code", "message", "data"}``; ``data`` says precisely what is wrong.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from knoxhook import events, wire
from knoxhook.emulator import legacy
from knoxhook.emulator.httputil import BadRequest, accepts, knox_error, read_json
from knoxhook.emulator.state import EventConflict, UnknownSubscription

MAX_URL_LENGTH = 2048


def _authorized(request: Request) -> Response | None:
    """None when the Bearer token is valid, else the 401 to send."""
    emulator = request.app.state.emulator
    if wire.H_API_TOKEN in request.headers:  # legacy Knox Cloud Authentication
        return legacy.authorized(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    problem = None
    if scheme.lower() != "bearer" or not token.strip():
        problem = "missing Bearer access token: send 'Authorization: Bearer <token>'"
    elif not emulator.store.token_valid(token.strip()):
        problem = "the access token is unknown, expired or revoked: request a new one"
    if problem is None:
        return None
    emulator.stats.bump("unauthorized")
    return knox_error(
        401, "UNAUTHORIZED", problem, headers={"WWW-Authenticate": 'Bearer realm="knox"'}
    )


def _guard(request: Request, offered: str = "application/json") -> Response | None:
    denied = _authorized(request)
    if denied is not None:
        return denied
    if not accepts(request, offered):
        return knox_error(406, "NOT_ACCEPTABLE", f"this resource is only available as {offered}")
    return None


def _url(body: dict[str, Any]) -> str | None:
    present = [(name, body[name]) for name in wire.F_URL_ALIASES if name in body]
    if not present:
        return None
    values = {repr(value) for _, value in present}
    if len(values) > 1:
        raise BadRequest(400, "INVALID_URL", "'url' and 'callbackUrl' disagree; send one")
    name, value = present[0]
    if not isinstance(value, str):
        raise BadRequest(400, "INVALID_URL", f"'{name}' must be a string")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise BadRequest(400, "INVALID_URL", f"'{name}' is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(
            400, "INVALID_URL", f"'{name}' must be an absolute http(s) URL, got {value[:100]!r}"
        )
    if len(value) > MAX_URL_LENGTH or any(c.isspace() for c in value):
        raise BadRequest(400, "INVALID_URL", f"'{name}' is too long or contains white space")
    return value


def _events(body: dict[str, Any]) -> list[str] | None:
    if wire.F_EVENTS not in body:
        return None
    value = body[wire.F_EVENTS]
    if not isinstance(value, list) or not value:
        raise BadRequest(400, "INVALID_EVENTS", "'events' must be a non-empty list of event names")
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, str):
            raise BadRequest(400, "INVALID_EVENTS", "'events' must contain only strings")
        if item not in events.EVENT_NAMES:
            hint = events.closest(item)
            tail = f"; did you mean {', '.join(hint)}?" if hint else ""
            raise BadRequest(400, "UNKNOWN_EVENT", f"unknown event {item[:100]!r}{tail}")
        if item in seen:
            raise BadRequest(400, "DUPLICATE_EVENT", f"event {item} is listed twice")
        seen.add(item)
    return list(value)


async def _body(request: Request) -> dict[str, Any]:
    body = await read_json(request, request.app.state.emulator.config.max_body_bytes)
    if not isinstance(body, dict):
        raise BadRequest(400, "INVALID_REQUEST_BODY", "the request body must be a JSON object")
    return body


def _conflict(exc: EventConflict) -> Response:
    return knox_error(
        400,
        "EVENT_ALREADY_SUBSCRIBED",
        f"event {exc.event} is already held by subscription {exc.holder}",
    )


def _not_found(sub_id: str) -> Response:
    return knox_error(404, "SUBSCRIPTION_NOT_FOUND", f"no subscription with id {sub_id[:100]!r}")


async def list_or_create(request: Request) -> Response:
    denied = _guard(request)
    if denied is not None:
        return denied
    store = request.app.state.emulator.store
    if request.method == "GET":
        return JSONResponse(store.all())
    body = await _body(request)
    url, wanted = _url(body), _events(body)
    if url is None:
        raise BadRequest(400, "INVALID_URL", "'url' is required (an absolute http(s) URL)")
    if wanted is None:
        raise BadRequest(400, "INVALID_EVENTS", "'events' is required (a non-empty list)")
    try:
        created = store.create(url, wanted)
    except EventConflict as exc:
        return _conflict(exc)
    location = f"{request.url.path}/{created[wire.F_SUBSCRIPTION_ID]}"
    return JSONResponse(created, status_code=201, headers={"Location": location})


async def one(request: Request) -> Response:
    denied = _guard(request)
    if denied is not None:
        return denied
    store = request.app.state.emulator.store
    sub_id = request.path_params["subscription_id"]
    try:
        if request.method == "GET":
            return JSONResponse(store.get(sub_id))
        if request.method == "DELETE":
            store.delete(sub_id)
            return Response(status_code=204)
        body = await _body(request)
        url, wanted = _url(body), _events(body)
        if url is None and wanted is None:
            raise BadRequest(400, "INVALID_REQUEST_BODY", "send 'url' and/or 'events' to update")
        return JSONResponse(store.update(sub_id, url, wanted))
    except UnknownSubscription:
        return _not_found(sub_id)
    except EventConflict as exc:
        return _conflict(exc)


async def certificate(request: Request) -> Response:
    denied = _guard(request, "application/x-pem-file")
    if denied is not None:
        return denied
    pem = request.app.state.emulator.certs.pem
    return Response(
        pem,
        media_type="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="knox-validation.pem"'},
    )

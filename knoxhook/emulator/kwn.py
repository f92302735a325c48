"""The KWN Subscription API and the certificate download (knox-api.md §3, §4).

Served under ``/kwn/v1`` and the early-access ``/kcs/kwn/v0.1``. Every call needs a
valid Bearer token. Validation errors are 400 with the documented error body
``{"code", "message", "data"}``; ``data`` says precisely what is wrong.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from knoxhook import wire
from knoxhook.emulator import legacy
from knoxhook.emulator.httputil import accepts, json_answer, knox_error
from knoxhook.emulator.models import (
    KnoxError,
    Subscription,
    SubscriptionCreate,
    SubscriptionUpdate,
)
from knoxhook.emulator.routing import Answer, Endpoint
from knoxhook.emulator.state import EventConflict, UnknownSubscription

PEM: Final = "application/x-pem-file"


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
    """The 401 or 406 to send, before the body is read; None to go on."""
    denied = _authorized(request)
    if denied is not None:
        return denied
    if not accepts(request, offered):
        return knox_error(406, "NOT_ACCEPTABLE", f"this resource is only available as {offered}")
    return None


def _conflict(exc: EventConflict) -> Response:
    return knox_error(
        400,
        "EVENT_ALREADY_SUBSCRIBED",
        f"event {exc.event} is already held by subscription {exc.holder}",
    )


def _not_found(sub_id: str) -> Response:
    return knox_error(404, "SUBSCRIPTION_NOT_FOUND", f"no subscription with id {sub_id[:100]!r}")


def _subscription(row: dict[str, Any]) -> Subscription:
    return Subscription.model_validate(row)


async def list_subscriptions(request: Request) -> Response:
    return json_answer([_subscription(row) for row in request.app.state.emulator.store.all()])


async def create_subscription(request: Request, body: SubscriptionCreate) -> Response:
    assert body.callback_url is not None  # SubscriptionCreate requires both
    assert body.events is not None
    try:
        created = request.app.state.emulator.store.create(body.callback_url, body.events)
    except EventConflict as exc:
        return _conflict(exc)
    location = f"{request.url.path}/{created[wire.F_SUBSCRIPTION_ID]}"
    return json_answer(_subscription(created), 201, headers={"Location": location})


async def get_subscription(request: Request) -> Response:
    sub_id = request.path_params["subscriptionId"]
    try:
        return json_answer(_subscription(request.app.state.emulator.store.get(sub_id)))
    except UnknownSubscription:
        return _not_found(sub_id)


async def update_subscription(request: Request, body: SubscriptionUpdate) -> Response:
    sub_id = request.path_params["subscriptionId"]
    try:
        row = request.app.state.emulator.store.update(sub_id, body.callback_url, body.events)
    except UnknownSubscription:
        return _not_found(sub_id)
    except EventConflict as exc:
        return _conflict(exc)
    return json_answer(_subscription(row))


async def delete_subscription(request: Request) -> Response:
    sub_id = request.path_params["subscriptionId"]
    try:
        request.app.state.emulator.store.delete(sub_id)
    except UnknownSubscription:
        return _not_found(sub_id)
    return Response(status_code=204)


async def certificate(request: Request) -> Response:
    pem = request.app.state.emulator.certs.pem
    return Response(
        pem,
        media_type=PEM,
        headers={"Content-Disposition": 'attachment; filename="knox-validation.pem"'},
    )


def _api_guard(request: Request) -> Response | None:
    return _guard(request)


def _pem_guard(request: Request) -> Response | None:
    return _guard(request, PEM)


_REFUSED = {
    401: Answer("missing, expired or revoked token", KnoxError),
    403: Answer("an expired legacy x-knox-apitoken (code 403225)", KnoxError),
    406: Answer("the Accept header excludes the answer", KnoxError),
}
_BAD_BODY = {
    400: Answer("validation failed, or an event is held by another subscription", KnoxError),
    413: Answer("the body is too large", KnoxError),
}
_UNKNOWN = {404: Answer("no subscription has this id", KnoxError)}


def _secured(
    method: str,
    path: str,
    handler: Any,
    summary: str,
    answers: dict[int, Answer],
    body: Any = None,
    guard: Any = _api_guard,
) -> Endpoint:
    return Endpoint(
        method, path, handler, summary, {**answers, **_REFUSED}, body=body, guard=guard,
        security="bearer",
    )  # fmt: skip


def endpoints(prefix: str) -> list[Endpoint]:
    """The Subscription API and the certificate under ``prefix`` (``/kwn/v1``...)."""
    many, one = wire.subscriptions_path(prefix), wire.subscription_path("{subscriptionId}", prefix)
    return [
        _secured("GET", many, list_subscriptions, "List the subscriptions, oldest first",
                 {200: Answer("the subscriptions", Subscription, many=True)}),
        _secured("POST", many, create_subscription, "Create a subscription",
                 {201: Answer("created", Subscription), **_BAD_BODY}, SubscriptionCreate),
        _secured("GET", one, get_subscription, "One subscription",
                 {200: Answer("the subscription", Subscription), **_UNKNOWN}),
        _secured("PUT", one, update_subscription, "Replace its url and/or its events",
                 {200: Answer("updated", Subscription), **_BAD_BODY, **_UNKNOWN},
                 SubscriptionUpdate),
        _secured("DELETE", one, delete_subscription, "Delete a subscription",
                 {204: Answer("deleted"), **_UNKNOWN}),
        _secured("GET", wire.certificate_path(prefix), certificate,
                 "The validation certificate (PEM)",
                 {200: Answer("the certificate", media_type=PEM)}, guard=_pem_guard),
    ]  # fmt: skip

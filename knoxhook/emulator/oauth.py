"""The OAuth 2.0 endpoints (knox-api.md §2a): client-credentials tokens and revocation.

Client credentials are accepted in the form body (``client_secret_post``, as Samsung's
curl example) and as HTTP Basic (RFC 6749 §2.3.1). Only ``grant_type=client_credentials``;
``expires_in`` asks for a lifetime up to 3600 s (default 599). Errors use the RFC 6749
body ``{"error", "error_description"}``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any, Final
from urllib.parse import unquote

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from knoxhook import wire
from knoxhook.emulator.httputil import (
    MAX_FORM_BYTES,
    BadRequest,
    json_answer,
    oauth_error,
    read_form,
)
from knoxhook.emulator.models import OAuthError, RevokeForm, Token, TokenForm
from knoxhook.emulator.routing import Answer, Endpoint


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    client_id, _, secret = decoded.partition(":")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


async def _form(request: Request) -> dict[str, str] | Response:
    try:
        return await read_form(request, MAX_FORM_BYTES)
    except BadRequest as exc:
        return oauth_error(400, "invalid_request", exc.text)


async def token(request: Request) -> Response:
    emulator = request.app.state.emulator
    emulator.stats.bump("token_requests")
    form = await _form(request)
    if isinstance(form, Response):
        return form
    try:
        asked = TokenForm.model_validate(form)
        problems: list[Any] = []
    except ValidationError as exc:
        asked = None
        problems = exc.errors(include_url=False, include_input=False)
    if any(p["loc"] == ("grant_type",) for p in problems):
        emulator.stats.bump("tokens_refused")
        if "grant_type" not in form:
            return oauth_error(400, "invalid_request", "grant_type is missing")
        return oauth_error(
            400, "unsupported_grant_type", "only grant_type=client_credentials is supported"
        )
    basic = _basic(request)
    if basic is not None:
        client_id, secret = basic
        if form.get("client_id") not in (None, client_id):
            return oauth_error(400, "invalid_request", "client_id differs from the Basic user")
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    known = emulator.config.clients.get(client_id)
    if (
        not client_id
        or known is None
        or not hmac.compare_digest(known.encode("utf-8"), secret.encode("utf-8"))
    ):
        emulator.stats.bump("tokens_refused")
        extra = {"WWW-Authenticate": 'Basic realm="knox"'} if basic is not None else {}
        return oauth_error(401, "invalid_client", "client authentication failed", **extra)
    if asked is None:  # only the lifetime is left to be wrong
        emulator.stats.bump("tokens_refused")
        return oauth_error(
            400,
            "invalid_request",
            f"expires_in must be a whole number of seconds from 1 to {wire.MAX_TOKEN_LIFETIME}",
        )
    lifetime = asked.expires_in or wire.DEFAULT_TOKEN_LIFETIME
    scope = asked.scope or wire.DEFAULT_SCOPE
    access_token = emulator.store.issue_token(client_id, scope, lifetime)
    emulator.stats.bump("tokens_issued")
    issued = Token(
        access_token=access_token,
        scope=scope,
        expires_in=lifetime,
        token_type="Bearer",  # noqa: S106 - the token type, not a secret
    )
    return json_answer(issued, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def revoke(request: Request) -> Response:
    """RFC 7009: 200 even for an unknown token; the token stops working at once."""
    emulator = request.app.state.emulator
    form = await _form(request)
    if isinstance(form, Response):
        return form
    try:
        asked = RevokeForm.model_validate(form)
    except ValidationError:
        return oauth_error(400, "invalid_request", "send the form field 'token'")
    if emulator.store.revoke_token(asked.token):
        emulator.stats.bump("tokens_revoked")
    return Response(status_code=200)


_REFUSED = Answer("refused (RFC 6749 error body)", OAuthError)
ENDPOINTS: Final = [
    Endpoint("POST", wire.TOKEN_PATH, token,
             "Client-credentials access token (credentials in the form, or HTTP Basic)",
             {200: Answer("the token", Token), 400: _REFUSED, 401: _REFUSED},
             body=TokenForm, form=True, validate=False, security="client"),
    Endpoint("POST", wire.REVOKE_PATH, revoke, "Revoke an access token at once (RFC 7009)",
             {200: Answer("revoked (or unknown)"), 400: _REFUSED},
             body=RevokeForm, form=True, validate=False),
]  # fmt: skip

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
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from knoxhook import wire
from knoxhook.emulator.httputil import oauth_error

MAX_FORM_BYTES = 64 * 1024


async def _form(request: Request) -> dict[str, str] | str:
    """The form fields, or what is wrong with the body (for ``error_description``)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return "send the request as application/x-www-form-urlencoded"
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        return f"the form is larger than {MAX_FORM_BYTES} bytes"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "the form is not UTF-8"
    return dict(parse_qsl(text, keep_blank_values=True))


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


async def token(request: Request) -> Response:
    emulator = request.app.state.emulator
    emulator.stats.bump("token_requests")
    form = await _form(request)
    if isinstance(form, str):
        return oauth_error(400, "invalid_request", form)
    grant = form.get("grant_type")
    if grant != "client_credentials":
        emulator.stats.bump("tokens_refused")
        if not grant:
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
    lifetime = wire.DEFAULT_TOKEN_LIFETIME
    if form.get("expires_in", "") != "":
        requested = form["expires_in"]
        if not requested.isdigit() or not 1 <= int(requested) <= wire.MAX_TOKEN_LIFETIME:
            emulator.stats.bump("tokens_refused")
            return oauth_error(
                400,
                "invalid_request",
                f"expires_in must be a whole number of seconds from 1 to {wire.MAX_TOKEN_LIFETIME}",
            )
        lifetime = int(requested)
    scope = form.get("scope") or wire.DEFAULT_SCOPE
    access_token = emulator.store.issue_token(client_id, scope, lifetime)
    emulator.stats.bump("tokens_issued")
    return JSONResponse(
        {
            "access_token": access_token,
            "scope": scope,
            "expires_in": lifetime,
            "token_type": "Bearer",
        },
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


async def revoke(request: Request) -> Response:
    """RFC 7009: 200 even for an unknown token; the token stops working at once."""
    emulator = request.app.state.emulator
    form = await _form(request)
    if isinstance(form, str) or not form.get("token"):
        return oauth_error(400, "invalid_request", "send the form field 'token'")
    if emulator.store.revoke_token(form["token"]):
        emulator.stats.bump("tokens_revoked")
    return Response(status_code=200)

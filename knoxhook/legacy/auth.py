"""The httpx2 auth flow of a legacy profile: ``x-knox-apitoken`` on every request.

Like ``client.BearerAuth`` (httpx ``_auth.py`` style): the token comes from the token
source; when Knox says it expired (403 with code 403225 / 4032251 or the name
``ACCESS_TOKEN_EXPIRED`` [doc], or any 401), it is renewed once and the request resent
once. A 403 for anything else (no permission) is not retried: a new token would not help.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import httpx2

from knoxhook import wire

if TYPE_CHECKING:
    from knoxhook.config import Settings
    from knoxhook.httpoptions import HttpOptions
    from knoxhook.legacy.source import LegacyTokenManager


def names_expiry(response: httpx2.Response) -> bool:
    """Does this 401/403 say the token expired? (the code, the name, or the text)"""
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        return b"expired" in response.content.lower()
    if not isinstance(body, dict):
        return False
    code = body.get(wire.F_ERROR_CODE)
    if str(code).isdigit() and int(str(code)) in wire.LEGACY_EXPIRED_CODES:
        return True
    words = " ".join(str(body.get(k, "")) for k in (wire.F_ERROR_NAME, wire.F_ERROR_TEXT))
    return wire.LEGACY_EXPIRED_NAME in words or "expired" in words.lower()


def should_renew(response: httpx2.Response) -> bool:
    if response.status_code == 401:
        return True
    return response.status_code == 403 and names_expiry(response)


class ApiTokenAuth(httpx2.Auth):
    """Adds ``x-knox-apitoken``; on an expired/refused token renews once and resends."""

    requires_response_body = True  # the 403's body says whether the token expired

    def __init__(self, tokens: LegacyTokenManager) -> None:
        self.tokens = tokens
        self.renewals = 0

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response]:
        token = self.tokens.get()
        request.headers[wire.H_API_TOKEN] = token.access_token
        response = yield request
        if should_renew(response):
            self.renewals += 1
            token = self.tokens.renew(rejected=token.access_token)
            request.headers[wire.H_API_TOKEN] = token.access_token
            yield request


def legacy_auth(settings: Settings, http: HttpOptions) -> tuple[LegacyTokenManager, ApiTokenAuth]:
    """The token source and auth flow ``KnoxClient`` uses for a profile with
    ``auth = "legacy"`` (one call, so the client's hook is one line)."""
    from knoxhook.legacy.source import LegacyTokenManager

    tokens = LegacyTokenManager(settings, http=http)
    return tokens, ApiTokenAuth(tokens)

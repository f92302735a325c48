"""``LegacyTokenManager``: the x-knox-apitoken source, behind ``TokenManager``'s interface.

Same contract as ``knoxhook.tokens.TokenManager`` (``cached``, ``get``, ``renew``,
``refresh``, ``known_secrets``, ``invalidate``, ``revoke``, ``http``, ``fetches``), so
``KnoxClient`` does not care which it holds. The flow [doc, knox-api.md §2b]:

1. sign the Client Identifier (``jwt.sign_client_identifier``);
2. ``POST {host}/ams/v1/users/accesstoken`` with JSON ``base64EncodedStringPublicKey``,
   ``clientIdentifierJwt`` and ``validityForAccessTokenInMinutes`` (1..30, default 30);
3. sign the ``accessToken`` it returns: that JWT is the ``x-knox-apitoken`` value.

The signed token is cached (``legacy.cache``: 0600, atomic) and fetched under a file
lock: lock, re-read, fetch only when still missing or expiring; so N concurrent cold
commands make ONE accesstoken request. It is renewed ``margin`` seconds (60, or half the
lifetime) before it expires. The keys and the identifier are resolved
(``legacy.store.resolve``: env > keyring > opt-in file) only when a fetch is needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knoxhook import wire
from knoxhook.config import Settings
from knoxhook.errors import AuthenticationError, TransportError, UsageError
from knoxhook.httpoptions import HttpOptions
from knoxhook.httptrace import scrub
from knoxhook.legacy.cache import cache_path
from knoxhook.retry import RETRY_STATUSES, parse_retry_after
from knoxhook.tokencache import Token
from knoxhook.tokensource import CachedTokenSource

if TYPE_CHECKING:
    import httpx2

    from knoxhook.legacy.store import LegacyCredentials

LOGIN_HINT = "run `knoxhook auth login --keys keys.json` (the Client Identifier from stdin)"


class LegacyTokenManager(CachedTokenSource):
    """Signed access tokens for one legacy profile. ``credentials`` None: resolved lazily
    (``legacy.store.resolve``) only when a fetch is needed. ``http`` as ``TokenManager``'s:
    the same ``HttpOptions`` the ``KnoxClient`` using these tokens has. The cache, lock and
    renewal logic is ``CachedTokenSource``'s; ``fetches`` counts accesstoken requests."""

    scheme = "legacy"
    header = wire.H_API_TOKEN

    def __init__(
        self,
        settings: Settings,
        *,
        credentials: LegacyCredentials | None = None,
        validity: int = wire.LEGACY_VALIDITY_DEFAULT,
        http: HttpOptions | None = None,
        now: Callable[[], float] = time.time,
        margin: float = 60.0,
        lock_timeout: float = 60.0,
    ) -> None:
        if not wire.LEGACY_VALIDITY_MIN <= validity <= wire.LEGACY_VALIDITY_MAX:
            raise UsageError(
                f"the access token validity must be {wire.LEGACY_VALIDITY_MIN} to "
                f"{wire.LEGACY_VALIDITY_MAX} minutes, not {validity}"
            )
        super().__init__(settings, http=http, now=now, margin=margin, lock_timeout=lock_timeout)
        self.validity = validity
        self._credentials = credentials
        self._seen: list[str] = []  # this process's JWTs and access token: never traced

    what_is_fetched = "a legacy access token"

    @property
    def token_url(self) -> str:
        return self.settings.base_url + wire.LEGACY_ACCESS_TOKEN_PATH

    def _cache_path(self) -> Path:
        return cache_path(self.settings)

    def known_secrets(self) -> list[str | None]:
        """What a trace or message must never show: the identifier, the JWTs, the tokens."""
        token = self._read_cached()
        identifier = self._credentials.identifier if self._credentials else None
        return [identifier, *self._seen, token.access_token if token else None]

    def revoke(self) -> bool:
        """Legacy access tokens have no revoke endpoint [doc: none is documented]: forget
        the cached one. True when there was one."""
        had = self._read_cached() is not None
        self.invalidate()
        return had

    # --- network ------------------------------------------------------------------------
    def credentials(self) -> LegacyCredentials:
        if self._credentials is None:
            from knoxhook.legacy.store import resolve

            self._credentials = resolve(self.settings)
        return self._credentials

    def _fetch(self) -> Token:
        credentials = self.credentials()
        return self._fetch_retrying(lambda: self._fetch_once(credentials))

    def _fetch_once(self, credentials: LegacyCredentials) -> Token:
        import httpx2

        from knoxhook.httperrors import MAYBE_SENT, NOT_SENT, failure
        from knoxhook.legacy import jwt

        keys = credentials.keys
        started = self._now()
        signed_identifier = jwt.sign_client_identifier(keys, credentials.identifier, now=started)
        self._seen.append(signed_identifier)
        body = {
            wire.F_LEGACY_PUBLIC_KEY: keys.public_key_b64,
            wire.F_LEGACY_CLIENT_IDENTIFIER_JWT: signed_identifier,
            wire.F_LEGACY_VALIDITY: self.validity,
        }
        try:
            with self.http.client(secrets=self.known_secrets) as http:
                response = http.post(
                    self.token_url, json=body, headers={"Accept": "application/json"}
                )
        except NOT_SENT as exc:
            why = failure(exc, self.http.timeout)
            raise self._retry_later(f"cannot connect ({why})") from None
        except MAYBE_SENT as exc:  # a second request only makes a second token: harmless
            raise self._retry_later(f"no answer: {failure(exc, self.http.timeout)}") from None
        except httpx2.HTTPError as exc:
            raise TransportError(
                f"could not get a legacy access token from {self.token_url}: {type(exc).__name__}"
            ) from None
        self._check(response)
        try:
            data: Any = response.json()
        except ValueError:
            data = None
        access = data.get(wire.F_LEGACY_ACCESS_TOKEN) if isinstance(data, dict) else None
        if not isinstance(access, str) or not access:
            raise TransportError(
                f"{self.token_url} answered HTTP {response.status_code} without an "
                f"{wire.F_LEGACY_ACCESS_TOKEN!r}",
                hint="check --base-url / --region points at the Knox Cloud Authentication host",
            )
        self._seen.append(access)
        signed = jwt.sign_access_token(keys, access, now=started)
        return Token(
            access_token=signed,
            expires_at=started + min(self.validity * 60, wire.JWT_LIFETIME),
            obtained_at=started,
            token_type=wire.H_API_TOKEN,
        )

    def _check(self, response: httpx2.Response) -> None:
        status = response.status_code
        if status < 300:
            return
        if status in RETRY_STATUSES:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise self._retry_later(f"HTTP {status}", status, retry_after)
        if status >= 500:
            raise TransportError(f"{self.token_url} failed (HTTP {status})", status=status)
        if status in (404, 405):
            raise UsageError(
                f"{self.token_url} is not a Knox Cloud Authentication endpoint (HTTP {status})",
                hint="check --region / --base-url (KNOXHOOK_BASE_URL)",
            )
        code, name, text = _knox_error(response)
        detail = " ".join(str(part) for part in (code, name, text) if part)
        detail = scrub(detail, self.known_secrets())[:300]
        if code == wire.LEGACY_BAD_VALIDITY_CODE or name == wire.LEGACY_BAD_VALIDITY_NAME:
            raise UsageError(f"Knox refused the token validity {self.validity}: {detail}")
        raise AuthenticationError(
            f"Knox refused the Client Identifier and keys (HTTP {status}"
            f"{': ' + detail if detail else ''})",
            hint="check that the Client Identifier and keys.json come from the same Knox "
            "Cloud API portal (region); " + LOGIN_HINT,
        )


def _knox_error(response: httpx2.Response) -> tuple[int | None, str | None, str | None]:
    """(code, NAME, text) of a Knox error body ``{"code", "message", "data"}``."""
    try:
        body = response.json()
    except ValueError:
        return None, None, None
    if not isinstance(body, dict):
        return None, None, None
    code = body.get(wire.F_ERROR_CODE)
    name, text = body.get(wire.F_ERROR_NAME), body.get(wire.F_ERROR_TEXT)
    return (
        code if isinstance(code, int) else None,
        str(name) if name else None,
        str(text) if text else None,
    )

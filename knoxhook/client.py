"""KnoxClient: the one way knoxhook talks to the Knox API (over httpx2).

- URL = ``settings.base_url + path`` (paths from ``knoxhook.wire``).
- Headers: ``User-Agent: knoxhook/<version>``, ``Authorization: Bearer <token>`` (an
  httpx2 auth flow, as in httpx ``_auth.py``: on a 401 the token is renewed once and the
  request resent), ``x-wsm-managed-tenantid`` when ``settings.tenant_id`` is set [doc].
- Failures become ``knoxhook.errors``: 401 after renewal -> AuthenticationError (exit 4);
  404 -> NotFoundError (6); other 4xx -> ApiError (5) with the Knox error body
  ``{"code", "message", "data"}`` in the message; 429/502/503/504 and connection errors
  are retried (``knoxhook.retry.RetryPolicy``: capped exponential backoff with jitter,
  ``Retry-After`` honoured); when retries run out, or for other 5xx -> TransportError (7).
- A non-idempotent request (POST unless ``idempotent=True``) is never repeated once it
  may have reached the server (timeout or dropped connection after sending, 502/503/504):
  it fails with ``TransportError(ambiguous=True)`` so the caller can look before trying
  again. A connect error (nothing was sent) or a 429 (refused) is retried for any method.

Knows nothing of typer or rich. How its requests are made (base URL, timeout,
User-Agent, ``--debug`` trace, transport, retry policy) is one ``HttpOptions``, injected
into it AND its ``TokenManager``: ``open_client(settings, secret=..., http=...)``. A Knox
error text is scrubbed of the secret and tokens before the exception is built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING, Any

import httpx2

from knoxhook import wire
from knoxhook.config import Settings
from knoxhook.errors import (
    ApiError,
    AuthenticationError,
    KnoxhookError,
    NotFoundError,
    TransportError,
)
from knoxhook.httperrors import MAYBE_SENT, NOT_SENT, failure, json_body
from knoxhook.httpoptions import HttpOptions
from knoxhook.httptrace import scrub
from knoxhook.retry import (
    RETRY_STATUSES,
    SAFE_RETRY_STATUSES,
    RetryLater,
    RetryPolicy,
    parse_retry_after,
    retrying,
)
from knoxhook.tokens import TokenManager

if TYPE_CHECKING:
    from knoxhook.legacy.source import LegacyTokenManager

__all__ = ["BearerAuth", "HttpOptions", "KnoxClient", "RetryPolicy", "open_client"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class BearerAuth(httpx2.Auth):
    """Adds ``Authorization: Bearer``; on a 401 renews the token once and resends."""

    def __init__(self, tokens: TokenManager) -> None:
        self.tokens = tokens
        self.renewals = 0

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response]:
        token = self.tokens.get()
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        response = yield request
        if response.status_code == 401:
            # Expired or revoked early [doc: revocation is immediate]: renew once.
            self.renewals += 1
            token = self.tokens.renew(rejected=token.access_token)
            request.headers["Authorization"] = f"Bearer {token.access_token}"
            yield request


class KnoxClient:
    """An authenticated client for one profile; use as a context manager.

    ``http``: how requests are made (default: ``HttpOptions.for_settings(settings)``);
    the same object goes to the ``TokenManager`` made here, unless ``tokens`` is given
    (then it should have been made with the same ``http``). ``secret`` None: resolved
    (env > keyring > file) only if a token must be fetched.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        http: HttpOptions | None = None,
        secret: str | None = None,
        tokens: TokenManager | LegacyTokenManager | None = None,
    ) -> None:
        self.settings = settings
        if http is None:
            http = tokens.http if tokens is not None else HttpOptions.for_settings(settings)
        if http.base_url is None:  # options made without settings: this profile's host
            http = dataclasses.replace(http, base_url=settings.base_url)
        self.http = http
        self.retry = http.retry
        self._sleep = http.sleep
        self.tokens: TokenManager | LegacyTokenManager
        self.auth: httpx2.Auth
        if settings.auth == "legacy":  # Knox Guard: x-knox-apitoken (knoxhook.legacy)
            from knoxhook.legacy.auth import ApiTokenAuth
            from knoxhook.legacy.source import LegacyTokenManager

            legacy = tokens if isinstance(tokens, LegacyTokenManager) else None
            self.tokens = legacy or LegacyTokenManager(settings, http=http)
            self.auth = ApiTokenAuth(self.tokens)
        else:
            oauth = tokens if isinstance(tokens, TokenManager) else None
            self.tokens = oauth or TokenManager(settings, secret=secret, http=http)
            self.auth = BearerAuth(self.tokens)
        tenant = {wire.TENANT_HEADER: settings.tenant_id} if settings.tenant_id else {}
        self._http = http.client(secrets=self.tokens.known_secrets, headers=tenant, auth=self.auth)

    # --- requests -------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        idempotent: bool | None = None,
        accept: str = "application/json",
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        refusal_is_error: bool = True,
    ) -> httpx2.Response:
        """Send one request with retries; a 2xx/3xx response, or a typed error.

        ``refusal_is_error=False`` (``knoxhook api``): a final 4xx is returned, not raised.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        if path.startswith(wire.KWN_PREFIX + "/"):  # a legacy profile's KWN may be v0.1
            path = self.settings.kwn_prefix + path[len(wire.KWN_PREFIX) :]
        where = f"{method} {self.settings.base_url}{path}"
        attempts = self.retry.attempts

        def attempt(number: int) -> httpx2.Response:
            try:
                response = self._http.request(
                    method, path, json=json, content=content,
                    headers={"Accept": accept, **(headers or {})},
                )  # fmt: skip
            except NOT_SENT as exc:  # nothing reached the server: always safe to retry
                why = failure(exc, self.http.timeout)
                raise RetryLater(
                    TransportError(
                        f"cannot connect to {self.settings.base_url} ({why}) "
                        f"after {number} attempt(s)",
                        hint="check the base URL (--base-url / KNOXHOOK_BASE_URL) and the network",
                    ),
                    reason=why,
                ) from None
            except MAYBE_SENT as exc:  # it may have arrived: retried only if idempotent
                why = failure(exc, self.http.timeout)
                lost = TransportError(
                    f"{where} got no answer: {why}"
                    + (f" ({number} of {attempts} attempts)" if idempotent else "")
                    + ("" if idempotent else "; it may or may not have taken effect"),
                    ambiguous=not idempotent,
                    hint="check the network, or allow more time with --timeout SECONDS"
                    if idempotent
                    else "check the result before trying again",
                )
                raise (RetryLater(lost, reason=why) if idempotent else lost) from None
            status = response.status_code
            if status in RETRY_STATUSES:
                safe = status in SAFE_RETRY_STATUSES
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                busy = _server_error(
                    where, response, number, self.tokens.known_secrets(),
                    ambiguous=not (safe or idempotent), wait=retry_after,
                )  # fmt: skip
                if safe or idempotent:
                    raise RetryLater(busy, retry_after, reason=str(status))
                raise busy
            if status < 400 or (status < 500 and not refusal_is_error):
                return response
            raise self._refusal(where, response, idempotent)

        return retrying(self.retry, attempt, sleep=self._sleep, what=f"{method} {path}")

    def _refusal(self, where: str, response: httpx2.Response, idempotent: bool) -> KnoxhookError:
        status = response.status_code
        secrets = self.tokens.known_secrets()
        if status >= 500:
            return _server_error(where, response, 1, secrets, ambiguous=not idempotent, wait=None)
        code, name, text = _knox_error(response, secrets)
        label = f"{status} {name}" if name else str(status)
        detail = f": {text}" if text else ""
        if status == 401:
            return AuthenticationError(
                f"Knox refused the access token ({label}){detail}",
                hint="check the client's permissions and scope; run `knoxhook auth login`",
            )
        if status == 404:
            return NotFoundError(
                f"not found: {where} ({label}){detail}", status=status,
                knox_code=code, knox_name=name,
            )  # fmt: skip
        return ApiError(
            f"Knox refused the request ({label}){detail}",
            status=status,
            knox_code=code,
            knox_name=name,
        )

    def get_json(self, path: str) -> Any:
        """GET ``path`` and return the parsed JSON body."""
        return json_body(self.request("GET", path))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KnoxClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_client(
    settings: Settings, *, secret: str | None = None, http: HttpOptions | None = None
) -> KnoxClient:
    """The usual factory: a ``KnoxClient`` for ``settings``, its token manager and it
    sharing ``http`` (default ``HttpOptions.for_settings(settings)``)."""
    return KnoxClient(settings, http=http, secret=secret)


def _knox_error(
    response: httpx2.Response, secrets: Iterable[str | None]
) -> tuple[int | None, str | None, str | None]:
    """(code, NAME, text) from a Knox error body ``{"code", "message", "data"}``; the
    text (which a server may echo a token into) with ``secrets`` scrubbed."""
    secrets = list(secrets)
    try:
        body = response.json()
    except ValueError:
        raw = scrub(response.text.strip()[:200], secrets)
        return None, None, raw or None
    if not isinstance(body, dict):
        return None, None, None
    code = body.get(wire.F_ERROR_CODE)
    name = body.get(wire.F_ERROR_NAME)
    text = body.get(wire.F_ERROR_TEXT)
    return (
        code if isinstance(code, int) else None,
        scrub(str(name), secrets) if name else None,
        scrub(str(text), secrets) if text is not None else None,
    )


def _server_error(
    where: str,
    response: httpx2.Response,
    attempts: int,
    secrets: Iterable[str | None],
    *,
    ambiguous: bool,
    wait: float | None,
) -> TransportError:
    status = response.status_code
    _, name, text = _knox_error(response, secrets)
    label = f"{status} {name}" if name else str(status)
    message = f"{where} failed with HTTP {label} after {attempts} attempt(s)"
    if text:
        message += f": {text}"
    if ambiguous:
        message += "; it may or may not have taken effect"
    hint = f"Knox asked to wait {wait:.0f} s" if wait else "try again later"
    return TransportError(message, ambiguous=ambiguous, status=status, hint=hint)

"""OAuth 2.0 client-credentials tokens: fetch, on-disk cache, renewal, revocation.

Cache (``knoxhook.tokencache``): one token per (profile, token URL, client id, scope) in
``<cache dir>/tokens/<sha256>.json`` (file 0600, dir 0700), written atomically. Reading a
valid cached token takes no lock and imports neither authlib nor keyring, so a command
with a cached token starts fast. A fetch happens under a file lock: lock, re-read the
cache, fetch only if still missing or expiring; so N concurrent cold invocations fetch
ONE token between them. A token is renewed ``margin`` seconds before it expires (60 s,
or half the lifetime for very short tokens). The secret is never written to the cache.

Fetch [doc, knox-api.md §2a]: ``POST {token_url}`` form ``grant_type=client_credentials``,
``client_id``, ``client_secret``, ``scope`` (client_secret_post), via authlib's
``OAuth2Client`` (which picks httpx2 when installed). Revoke: ``POST {revoke_url}``,
form field ``token``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from knoxhook import tokencache
from knoxhook.config import Settings
from knoxhook.errors import AuthenticationError, NotConfiguredError, TransportError, UsageError
from knoxhook.httpoptions import HttpOptions
from knoxhook.httptrace import scrub
from knoxhook.retry import RETRY_STATUSES, parse_retry_after
from knoxhook.tokencache import TOKENS_DIR as TOKENS_DIR  # re-exported
from knoxhook.tokencache import Token as Token  # re-exported
from knoxhook.tokencache import cache_path as cache_path  # re-exported
from knoxhook.tokencache import read_cached as read_cached  # re-exported
from knoxhook.tokensource import CachedTokenSource

if TYPE_CHECKING:
    import httpx2


class TokenManager(CachedTokenSource):
    """Tokens for one profile. ``secret`` is a string, or None to resolve it lazily
    (``credentials.resolve_secret``) only when a token must be fetched. ``http`` is how
    its requests are made (transport, retry policy, sleep, trace, timeout): the caller
    injects the same ``HttpOptions`` into the ``KnoxClient`` that uses these tokens. The
    cache, lock and renewal logic is ``CachedTokenSource``'s."""

    @property
    def token_url(self) -> str:
        return self.settings.token_url

    def __init__(
        self,
        settings: Settings,
        *,
        secret: str | None = None,
        http: HttpOptions | None = None,
        now: Callable[[], float] = time.time,
        margin: float = 60.0,
        lock_timeout: float = 60.0,
    ) -> None:
        super().__init__(settings, http=http, now=now, margin=margin, lock_timeout=lock_timeout)
        self._secret = secret

    def _cache_path(self) -> Path:
        return cache_path(self.settings)

    def known_secrets(self) -> list[str | None]:
        """The secret (if resolved) and the cached token: what a trace must never show."""
        token = self._read_cached()
        return [self._secret, token.access_token if token else None]

    # --- network ------------------------------------------------------------------------
    def _secret_value(self) -> str:
        if self._secret is None:
            from knoxhook.credentials import resolve_secret

            self._secret = resolve_secret(self.settings)
        return self._secret

    def _fetch(self) -> Token:
        settings = self.settings
        if not settings.client_id:
            raise NotConfiguredError(
                f"no client id for profile {settings.profile!r}" + _unknown_profile(settings),
                hint="run `knoxhook auth login --client-id ID`, or set KNOXHOOK_CLIENT_ID",
            )
        secret = self._secret_value()
        client_id = settings.client_id
        return self._fetch_retrying(lambda: self._fetch_once(client_id, secret))

    def _fetch_once(self, client_id: str, secret: str) -> Token:
        import httpx2
        from authlib.common.errors import AuthlibBaseError
        from authlib.integrations.httpx_client import OAuth2Client

        from knoxhook.httperrors import MAYBE_SENT, NOT_SENT, failure

        settings = self.settings
        started = self._now()
        try:
            with OAuth2Client(
                client_id=client_id,
                client_secret=secret,
                token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name
                scope=settings.scope,
                token_endpoint=settings.token_url,
                **self.http.client_kwargs(secrets=self.known_secrets),
            ) as oauth:
                oauth.register_compliance_hook("access_token_response", self._check_response)
                data = oauth.fetch_token(settings.token_url, grant_type="client_credentials")
        except NOT_SENT as exc:
            why = failure(exc, self.http.timeout)
            raise self._retry_later(f"cannot connect ({why})") from None
        except MAYBE_SENT as exc:
            raise self._retry_later(f"no answer: {failure(exc, self.http.timeout)}") from None
        except httpx2.HTTPError as exc:
            raise TransportError(
                f"could not get a token from {settings.token_url}: {type(exc).__name__}"
            ) from None
        except AuthlibBaseError as exc:  # OAuthError: an {"error": ...} answer, even a 200
            raise AuthenticationError(
                f"Knox refused the client credentials of {client_id!r}: "
                + scrub(str(exc), [secret]),
                hint="check the client id and secret (`knoxhook auth login`)",
            ) from None
        except (ValueError, TypeError) as exc:  # authlib parsing what is not a token object
            raise TransportError(
                f"the token endpoint {settings.token_url} answered with something that is "
                f"not an OAuth token ({type(exc).__name__})",
                hint="check --token-url / KNOXHOOK_TOKEN_URL points at the Knox token endpoint",
            ) from None
        access = data.get("access_token") if isinstance(data, dict) else None
        if not access:
            raise AuthenticationError(
                f"the token endpoint {settings.token_url} answered without an access token"
            )
        lifetime = float(data.get("expires_in") or 599)
        return Token(
            access_token=str(access),
            expires_at=started + lifetime,
            obtained_at=started,
            token_type=str(data.get("token_type") or "Bearer"),
            scope=data.get("scope"),
        )

    def _check_response(self, response: httpx2.Response) -> httpx2.Response:
        status = response.status_code
        if status < 300:
            return response
        if status in RETRY_STATUSES:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise self._retry_later(f"HTTP {status}", status, retry_after)
        if status >= 500:
            raise TransportError(
                f"the token endpoint {self.settings.token_url} failed (HTTP {status})",
                status=status,
            )
        if status in (404, 405):  # nothing there takes a token request: a wrong URL
            raise UsageError(
                f"the token URL {self.settings.token_url} is not a token endpoint (HTTP {status})",
                hint="check --token-url / KNOXHOOK_TOKEN_URL and --base-url / KNOXHOOK_BASE_URL",
            )
        detail = _error_detail(response)
        raise AuthenticationError(
            f"Knox refused the client credentials of {self.settings.client_id!r} "
            f"(HTTP {status}{': ' + scrub(detail, [self._secret]) if detail else ''})",
            hint="check the client id, secret and scope; run `knoxhook auth login` again",
        )

    def revoke(self) -> bool:
        """Revoke the cached token at ``settings.revoke_url`` (form field ``token``) and
        drop it from the cache. False when there was no cached token."""
        import httpx2

        token = read_cached(self.settings)
        if token is None:
            return False
        form = {"token": token.access_token, "token_type_hint": "access_token"}
        if self.settings.client_id:
            form["client_id"] = self.settings.client_id
        try:
            with self.http.client(secrets=self.known_secrets) as http:
                response = http.post(self.settings.revoke_url, data=form)
        except httpx2.HTTPError as exc:
            raise TransportError(
                f"could not reach {self.settings.revoke_url} ({type(exc).__name__})"
            ) from None
        finally:
            self.invalidate()
        if response.status_code >= 400:
            raise TransportError(
                f"the revoke endpoint answered HTTP {response.status_code}",
                status=response.status_code,
            )
        return True


def _error_detail(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[k]) for k in ("error", "error_description") if body.get(k)]
    if not parts:  # the Knox error shape {"code", "message", "data"}
        parts = [str(body[k]) for k in ("code", "message", "data") if body.get(k)]
    return " ".join(parts)[:300]


def _unknown_profile(settings: Settings) -> str:
    """``" (no such profile in ...; known: a, b)"`` when the profile is not in config.toml:
    the likely cause is a typo in ``--profile`` / ``KNOXHOOK_PROFILE``."""
    from knoxhook.config import CONFIG_FILE, list_profiles

    known = list_profiles(settings.config_dir)
    if settings.profile in known:
        return ""
    where = settings.config_dir / CONFIG_FILE
    return f" (no such profile in {where}; known: {', '.join(known) or 'none'})"


def forget_profile_tokens(settings: Settings) -> int:
    """Delete every cached token of ``settings.profile`` (OAuth and legacy, whatever
    token URL, client or scope it was fetched for: the records name their profile), and
    their lock files; how many tokens. Files it did not write (links, someone else's) are
    left alone; a token file that is not ours to read cannot be one of this profile's."""
    import json

    from knoxhook.tokencache import MAX_TOKEN_FILE, tokens_dir

    directory = tokens_dir(settings)
    if tokencache.untrusted_dir(settings) or not directory.is_dir():
        return 0
    removed = 0
    for path in sorted(directory.glob("*.json")):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            record = json.loads(path.read_bytes()[:MAX_TOKEN_FILE])
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("profile") == settings.profile:
            path.unlink(missing_ok=True)
            path.with_suffix(".lock").unlink(missing_ok=True)
            removed += 1
    return removed

"""Legacy Knox Cloud Authentication in the emulator (knox-api.md §2b): what Knox Guard
customers use instead of OAuth 2.0.

- ``POST /ams/v1/users/accesstoken``: verifies the ``clientIdentifierJwt`` (RS512, with the
  public key registered for its ``clientIdentifier``: the portal's job), its ``aud``,
  ``exp``, that ``base64EncodedStringPublicKey`` and the ``publicKey`` claim are that key,
  and that its ``jti`` was not used before within its lifetime; answers ``accessToken``.
- ``x-knox-apitoken`` on the KWN paths (``authorized``, called by ``kwn``): the JWT's
  signature, its expiry and the access token's (403, code 403225, when expired), and that
  this emulator issued the access token.

Registered clients: ``EmulatorConfig.legacy_clients`` (identifier -> base64 DER SPKI),
from ``emulator run --legacy-client IDENTIFIER:KEYS.json``; None registers the documented
demo client (``knoxhook.legacy.DEMO_IDENTIFIER`` with ``DEMO_KEYS_PATH``). Issued tokens
and used ``jti`` values live in memory: a restart forgets them (clients then get a 401
and renew). Mounting: ``accesstoken`` is one ``routing.Endpoint`` in ``app.py`` (with
the pydantic ``AccessTokenRequest`` / ``AccessTokenResponse`` for ``/openapi.json``),
``install(app, ...)`` once, and ``authorized(request)`` where the Bearer check is.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from knoxhook import wire
from knoxhook.emulator.httputil import BadRequest, read_json
from knoxhook.errors import UsageError
from knoxhook.legacy import DEMO_IDENTIFIER, DEMO_KEYS_PATH
from knoxhook.legacy.jwt import Decoded, JwtError, verify

MAX_JTIS = 100_000  # bound memory: more live jti values than this are refused
_SKEW = 60  # seconds an iat may be ahead of the emulator's clock


class AccessTokenRequest(BaseModel):
    """``POST /ams/v1/users/accesstoken`` [doc]."""

    base64EncodedStringPublicKey: str = Field(
        description="base64 of the DER SubjectPublicKeyInfo registered for the identifier"
    )
    clientIdentifierJwt: str = Field(
        description="the Client Identifier signed RS512 with the key pair's private key"
    )
    validityForAccessTokenInMinutes: int | str = Field(
        default=wire.LEGACY_VALIDITY_DEFAULT,
        description="1 to 30 (int32; a string of digits is accepted too [code])",
    )


class AccessTokenResponse(BaseModel):
    accessToken: str = Field(
        description="sign it (claim accessToken) and send it as x-knox-apitoken"
    )


class Refusal(Exception):
    def __init__(self, status: int, code: int, name: str, text: str) -> None:
        super().__init__(text)
        self.status, self.code, self.name, self.text = status, code, name, text

    def response(self) -> Response:
        body = {
            wire.F_ERROR_CODE: self.code,
            wire.F_ERROR_NAME: self.name,
            wire.F_ERROR_TEXT: self.text,
        }
        return JSONResponse(body, status_code=self.status)


def _bad(text: str) -> Refusal:
    return Refusal(401, wire.LEGACY_BAD_JWT_CODE, wire.LEGACY_BAD_JWT_NAME, text)


def _expired(text: str) -> Refusal:
    return Refusal(403, wire.LEGACY_EXPIRED_CODE, wire.LEGACY_EXPIRED_NAME, text)


def _der(b64: str) -> bytes | None:
    try:
        return base64.b64decode("".join(b64.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


@dataclass
class _Issued:
    identifier: str
    expires_at: float


class LegacyAuthority:
    """Registered legacy clients, the access tokens issued to them, the ``jti`` seen."""

    def __init__(self, clients: Mapping[str, str], now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._keys: dict[str, tuple[bytes, rsa.RSAPublicKey]] = {}
        for identifier, b64 in clients.items():
            der = _der(b64)
            key = serialization.load_der_public_key(der) if der else None
            if not isinstance(key, rsa.RSAPublicKey):
                raise UsageError("a legacy client's public key is not an RSA SPKI (base64 DER)")
            self._keys[identifier] = (der or b"", key)
        self._lock = threading.Lock()
        self._issued: dict[str, _Issued] = {}
        self._jtis: dict[str, float] = {}
        self.counts = {"issued": 0, "refused": 0, "apitoken_refused": 0}

    @property
    def identifiers(self) -> list[str]:
        return sorted(self._keys)

    def reset(self) -> None:
        with self._lock:
            self._issued.clear()
            self._jtis.clear()
            self.counts = dict.fromkeys(self.counts, 0)

    def expire_tokens(self) -> int:
        """Make every issued access token expired now (tests: "expired mid-command")."""
        with self._lock:
            for issued in self._issued.values():
                issued.expires_at = self._now() - 1
            return len(self._issued)

    # --- the accesstoken endpoint -----------------------------------------------------
    def issue(self, body: AccessTokenRequest) -> AccessTokenResponse:
        validity = body.validityForAccessTokenInMinutes
        if isinstance(validity, str):
            validity = int(validity) if validity.isdigit() else -1
        if not wire.LEGACY_VALIDITY_MIN <= validity <= wire.LEGACY_VALIDITY_MAX:
            raise Refusal(
                400, wire.LEGACY_BAD_VALIDITY_CODE, wire.LEGACY_BAD_VALIDITY_NAME,
                f"{wire.F_LEGACY_VALIDITY} must be an int32 from {wire.LEGACY_VALIDITY_MIN} "
                f"to {wire.LEGACY_VALIDITY_MAX}",
            )  # fmt: skip
        decoded, identifier = self._verified(
            body.clientIdentifierJwt,
            wire.CLAIM_CLIENT_IDENTIFIER,
            wire.F_LEGACY_CLIENT_IDENTIFIER_JWT,
        )
        if _der(body.base64EncodedStringPublicKey) != self._keys[identifier][0]:
            raise _bad(
                f"{wire.F_LEGACY_PUBLIC_KEY} is not the public key registered for this "
                "Client Identifier"
            )
        now = self._now()
        exp = decoded.claims["exp"]
        if exp <= now:
            raise _bad(f"the {wire.F_LEGACY_CLIENT_IDENTIFIER_JWT} has expired: sign a new one")
        jti = decoded.claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise _bad(f"the {wire.F_LEGACY_CLIENT_IDENTIFIER_JWT} has no jti")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._jtis = {j: e for j, e in self._jtis.items() if e > now}
            if jti in self._jtis:
                raise Refusal(
                    400, wire.LEGACY_REUSED_JTI_CODE, wire.LEGACY_REUSED_JTI_NAME,
                    "this jti was used before: sign a new clientIdentifierJwt",
                )  # fmt: skip
            if len(self._jtis) >= MAX_JTIS:
                raise Refusal(429, 429000, "TOO_MANY_REQUESTS", "too many live jti values")
            self._jtis[jti] = float(exp)
            self._issued = {t: i for t, i in self._issued.items() if i.expires_at > now - 3600}
            self._issued[token] = _Issued(identifier, now + validity * 60)
        return AccessTokenResponse(accessToken=token)

    def _verified(self, token: str, claim: str, where: str) -> tuple[Decoded, str]:
        """Decode ``token``; check its ``claim`` names a registered client whose key signed
        it, its ``publicKey`` claim is that key, ``aud`` and ``exp``/``iat`` are sane."""
        from knoxhook.legacy.jwt import decode

        try:
            claims = decode(token).claims
        except JwtError as exc:
            raise _bad(f"{where} is not a JWT: {exc}") from None
        value = claims.get(claim)
        if claim == wire.CLAIM_CLIENT_IDENTIFIER:
            identifier = value if isinstance(value, str) else None
        else:
            issued = self._issued.get(value) if isinstance(value, str) else None
            identifier = issued.identifier if issued else None
        if identifier not in self._keys:
            what = (
                "Client Identifier is not registered"
                if claim == wire.CLAIM_CLIENT_IDENTIFIER
                else "access token was not issued here (or the emulator was reset)"
            )
            raise _bad(f"{where}: the {what}")
        der, key = self._keys[identifier]
        try:
            decoded = verify(token, key)
        except JwtError as exc:
            raise _bad(f"{where}: {exc}") from None
        if _der(str(claims.get(wire.CLAIM_PUBLIC_KEY, ""))) != der:
            raise _bad(f"{where}: the {wire.CLAIM_PUBLIC_KEY} claim is not the registered key")
        aud = claims.get("aud")
        if aud != wire.JWT_AUDIENCE and not (isinstance(aud, list) and wire.JWT_AUDIENCE in aud):
            raise _bad(f"{where}: aud must be {wire.JWT_AUDIENCE!r}")
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise _bad(f"{where}: exp must be a NumericDate")
        if iat is not None and (not isinstance(iat, int) or iat > self._now() + _SKEW):
            raise _bad(f"{where}: iat is in the future")
        return decoded, identifier

    # --- x-knox-apitoken on the KWN paths ----------------------------------------------
    def check(self, apitoken: str) -> None:
        """Raise ``Refusal`` unless ``apitoken`` is a valid signed access token."""
        decoded, _ = self._verified(apitoken.strip(), wire.CLAIM_ACCESS_TOKEN, wire.H_API_TOKEN)
        now = self._now()
        if decoded.claims["exp"] <= now:
            raise _expired(f"the {wire.H_API_TOKEN} JWT has expired: sign the access token again")
        with self._lock:
            issued = self._issued.get(str(decoded.claims[wire.CLAIM_ACCESS_TOKEN]))
            if issued is None or issued.expires_at <= now:
                raise _expired("the access token has expired: request a new one")


# --- registration -------------------------------------------------------------------------
def public_key_of(path: Path) -> str:
    """The base64 DER SPKI of the ``Public`` field of a keys.json (``Private`` unused)."""
    from knoxhook.legacy.keys import parse_public, spki_b64

    try:
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read the keys file {path}: {exc.strerror}") from None
    except ValueError:
        raise UsageError(f"{path} is not JSON: not a keys.json") from None
    if not isinstance(document, dict):
        raise UsageError(f"{path} is not a JSON object with 'Public'")
    return spki_b64(parse_public(document.get(wire.KEYS_PUBLIC), str(path)))


def parse_legacy_clients(specs: list[str]) -> dict[str, str]:
    """``["IDENTIFIER:KEYS.json", ...]`` -> identifier -> base64 SPKI. Errors name the
    keys file, never the identifier (it is a secret where it is real)."""
    clients: dict[str, str] = {}
    for spec in specs:
        identifier, sep, path = spec.strip().partition(":")
        if not sep or not identifier or not path:
            raise UsageError(
                "bad --legacy-client: expected IDENTIFIER:KEYS.json",
                hint="for example --legacy-client my-test-identifier:./keys.json",
            )
        clients[identifier] = public_key_of(Path(path))
    return clients


def demo_clients() -> dict[str, str]:
    return {DEMO_IDENTIFIER: public_key_of(DEMO_KEYS_PATH)}


# --- mounting -------------------------------------------------------------------------------
def install(app: Any, clients: Mapping[str, str] | None, now: Callable[[], float]) -> None:
    """Give a Starlette app its ``LegacyAuthority`` (``app.state.legacy``)."""
    app.state.legacy = LegacyAuthority(demo_clients() if clients is None else clients, now)


def authority_of(app: Any) -> LegacyAuthority:
    """The authority of an emulator app (the Starlette app or the FaultMiddleware)."""
    inner = getattr(app, "app", app)
    authority: LegacyAuthority = inner.state.legacy
    return authority


async def accesstoken(request: Request) -> Response:
    authority = authority_of(request.app)
    emulator = request.app.state.emulator
    emulator.stats.bump("legacy_token_requests")
    document = await read_json(request, 64 * 1024)
    if not isinstance(document, dict):
        raise BadRequest(400, "INVALID_REQUEST_BODY", "the request body must be a JSON object")
    try:
        body = AccessTokenRequest.model_validate(document)
        issued = authority.issue(body)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "body"
        raise BadRequest(
            400, "INVALID_REQUEST_BODY", f"{where}: {exc.errors()[0]['msg']}"
        ) from None
    except Refusal as refusal:
        authority.counts["refused"] += 1
        return refusal.response()
    authority.counts["issued"] += 1
    return JSONResponse(issued.model_dump(), headers={"Cache-Control": "no-store"})


def authorized(request: Request) -> Response | None:
    """None when ``x-knox-apitoken`` is valid, else the 401/403 to send."""
    authority = authority_of(request.app)
    try:
        authority.check(request.headers.get(wire.H_API_TOKEN, ""))
    except Refusal as refusal:
        authority.counts["apitoken_refused"] += 1
        request.app.state.emulator.stats.bump("unauthorized")
        return refusal.response()
    return None

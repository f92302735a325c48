"""The emulator's ASGI app: ``create_app(config)``.

Layers, outermost first: ``FaultMiddleware`` (counts requests, applies injected faults),
then a Starlette app whose exception handlers turn every failure into the Knox error
body, so malformed input is a 4xx and never a bare 500. Its routes come from
``ENDPOINTS``, the one table that ``/openapi.json`` describes too.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from knoxhook import wire
from knoxhook.emulator import control, kwn, legacy, oauth, openapi, routing
from knoxhook.emulator.certs import CertificateStore
from knoxhook.emulator.config import EmulatorConfig
from knoxhook.emulator.delivery import Deliverer, DeliveryLog
from knoxhook.emulator.faults import FaultMiddleware, FaultTable
from knoxhook.emulator.httputil import BadRequest, knox_error
from knoxhook.emulator.models import KnoxError
from knoxhook.emulator.routing import Answer, Endpoint
from knoxhook.emulator.state import Store
from knoxhook.emulator.stats import Stats
from knoxhook.errors import UsageError


@dataclass
class Emulator:
    """Everything the handlers share; reachable as ``app.state.emulator``."""

    config: EmulatorConfig
    store: Store
    certs: CertificateStore
    stats: Stats
    faults: FaultTable
    log: DeliveryLog
    deliverer: Deliverer


def _open_state(config: EmulatorConfig) -> tuple[CertificateStore, Store]:
    """The certificate and the store; a usage error naming the data dir if it is unusable."""
    try:
        certs = CertificateStore(config.now, config.data_dir)
        if config.cert_state is not None:
            certs.apply(config.cert_state)
        return certs, Store(config.now, config.data_dir)
    except (OSError, sqlite3.Error, ValueError) as exc:
        if config.data_dir is None:
            raise
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(
            f"cannot use the emulator data dir {config.data_dir}: {reason}",
            hint="pass a writable directory of the emulator's own with --data-dir",
        ) from None


def build(config: EmulatorConfig) -> Emulator:
    certs, store = _open_state(config)
    stats, log = Stats(), DeliveryLog()
    return Emulator(
        config=config,
        store=store,
        certs=certs,
        stats=stats,
        faults=FaultTable(),
        log=log,
        deliverer=Deliverer(
            certs=certs,
            stats=stats,
            log=log,
            signing=config.signing,
            timeout=config.delivery_timeout,
            retries=config.delivery_retries,
            backoff=config.delivery_backoff,
            now=config.now,
            allow_remote=config.allow_remote_delivery,
        ),
    )


# Every endpoint the emulator serves; each is served and documented (``/openapi.json``)
# from its entry. To add endpoints, export a list of ``routing.Endpoint`` from their
# module and add it here.
# Legacy Knox Cloud Authentication (knox-api.md §2b; legacy.py reads and validates its
# own body, with its own models, and answers Knox's legacy error codes).
LEGACY_ENDPOINTS = [
    Endpoint("POST", wire.LEGACY_ACCESS_TOKEN_PATH, legacy.accesstoken,
             "Legacy Knox Cloud Authentication: trade a signed Client Identifier for an "
             "access token",
             {200: Answer("the access token", legacy.AccessTokenResponse),
              400: Answer("bad body, validity out of range, or a reused jti", KnoxError),
              401: Answer("unknown identifier, bad signature, aud or exp", KnoxError)},
             body=legacy.AccessTokenRequest, validate=False),
]  # fmt: skip
ENDPOINTS: list[Endpoint] = [
    *oauth.ENDPOINTS,
    *LEGACY_ENDPOINTS,
    *kwn.endpoints(wire.KWN_PREFIX),
    *kwn.endpoints(wire.KWN_LEGACY_PREFIX),
    *control.ENDPOINTS,
]


def _routes() -> list[Route]:
    return [*routing.routes(ENDPOINTS), Route("/openapi.json", _openapi, methods=["GET"])]


async def _openapi(request: Request) -> Response:
    return JSONResponse(openapi.document(ENDPOINTS))


async def _bad_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadRequest)
    return knox_error(exc.status, exc.name, exc.text)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return knox_error(404, "NOT_FOUND", f"no such resource: {request.url.path[:200]}")
    if exc.status_code == 405:
        return knox_error(
            405,
            "METHOD_NOT_ALLOWED",
            f"{request.method} is not allowed on {request.url.path[:200]}",
            headers=dict(exc.headers or {}),
        )
    return knox_error(exc.status_code, "HTTP_ERROR", str(exc.detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    return knox_error(500, "INTERNAL_SERVER_ERROR", f"emulator bug: {type(exc).__name__}")


def create_app(config: EmulatorConfig | None = None) -> FaultMiddleware:
    """The emulator as an ASGI app; ``app.emulator`` is its ``Emulator`` (state, stats)."""
    emulator = build(config or EmulatorConfig())
    inner = Starlette(
        routes=_routes(),
        exception_handlers={
            BadRequest: _bad_request,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    # A JSON API answers 404, not a 307 to another path, for a trailing or doubled slash.
    inner.router.redirect_slashes = False
    inner.state.emulator = emulator
    legacy.install(inner, emulator.config.legacy_clients, emulator.config.now)
    outer = FaultMiddleware(inner, emulator.faults, emulator.stats)
    outer.emulator = emulator
    return outer

"""The emulator's route table: one ``Endpoint`` per method and path, with its contract.

An endpoint names its handler, the model its body must satisfy (``models.py``), the
answers it may give, and its guard (a Bearer token, say). ``routes()`` turns the table
into Starlette routes that check the guard, validate the body with the model and only
then call the handler with it; ``openapi.document()`` describes the same table. So a
new endpoint (``legacy.py``, say) is one ``Endpoint`` in a module's list, added to
``app.ENDPOINTS``: it is served and documented at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from knoxhook.emulator.httputil import knox_error, parse_body

Handler = Callable[..., Awaitable[Response]]
Guard = Callable[[Request], Response | None]


@dataclass(frozen=True)
class Answer:
    """One documented answer: a model (a list of it when ``many``), PEM text, or nothing."""

    description: str
    model: type[BaseModel] | None = None
    many: bool = False
    media_type: str = "application/json"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    answers: Mapping[int, Answer]
    body: type[BaseModel] | None = None
    form: bool = False  # the body is application/x-www-form-urlencoded
    # False: the handler validates the body with ``body`` itself (the OAuth endpoints
    # answer RFC 6749 errors, in RFC 6749's order, not the Knox error body).
    validate: bool = True
    guard: Guard | None = None
    security: Literal["bearer", "client", "control"] | None = None
    tags: tuple[str, ...] = field(default=())

    async def __call__(self, request: Request) -> Response:
        if self.guard is not None:
            denied = self.guard(request)
            if denied is not None:
                return denied
        if self.body is None or not self.validate:
            return await self.handler(request)
        return await self.handler(request, await parse_body(request, self.body, form=self.form))


def _dispatcher(table: Mapping[str, Endpoint]) -> Handler:
    async def dispatch(request: Request) -> Response:
        endpoint = table.get(request.method) or table.get("GET" if request.method == "HEAD" else "")
        if endpoint is None:  # Starlette already refused other methods; keep mypy honest
            return knox_error(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed")
        return await endpoint(request)

    return dispatch


def routes(endpoints: Iterable[Endpoint]) -> list[Route]:
    """One Starlette route per path (so a 405 lists every method of that path)."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for endpoint in endpoints:
        methods = by_path.setdefault(endpoint.path, {})
        if endpoint.method in methods:
            raise ValueError(f"two endpoints for {endpoint.method} {endpoint.path}")
        methods[endpoint.method] = endpoint
    return [Route(path, _dispatcher(table), methods=list(table)) for path, table in by_path.items()]


def path_parameters(path: str) -> list[str]:
    """``/a/{x}/b/{y}`` -> ``["x", "y"]``."""
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]

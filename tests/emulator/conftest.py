"""Fixtures for the emulator tests: a callback recorder, an authorized API client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from knoxhook.emulator.testing import EmulatorHandle, running_emulator
from knoxhook.serving import serve_in_thread


@pytest.fixture(scope="module")
def module_emulator() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        yield handle


@pytest.fixture
def emulator(module_emulator: EmulatorHandle) -> EmulatorHandle:
    """Overrides the root fixture: one emulator per module, reset before each test
    (fresh state, same certificate), so this directory stays fast."""
    module_emulator.reset()
    return module_emulator


@dataclass
class Recorder:
    """A callback receiver on 127.0.0.1 that records every request it gets.

    ``statuses`` is a queue of statuses to answer (then 200); ``delay`` slows answers.
    """

    base_url: str = ""
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self.base_url + "/callback"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    import asyncio

    rec = Recorder()

    async def receive(request: Request) -> Response:
        body = await request.body()
        with rec.lock:
            rec.calls.append(({k.lower(): v for k, v in request.headers.items()}, body))
            status = rec.statuses.pop(0) if rec.statuses else 200
        if rec.delay:
            await asyncio.sleep(rec.delay)
        return Response("ok", status_code=status)

    app = Starlette(routes=[Route("/callback", receive, methods=["POST"])])
    with serve_in_thread(app) as server:
        rec.base_url = server.base_url
        yield rec


class Api:
    """An httpx2 client for one emulator, with a Bearer token of its demo client."""

    def __init__(self, emu: EmulatorHandle) -> None:
        self.emu = emu
        self.token = emu.token()
        self.http = httpx2.Client(
            base_url=emu.base_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30.0,
            verify=False,  # plain HTTP; skips loading CA certificates (fast)
        )

    def create(self, url: str, events: list[str]) -> httpx2.Response:
        return self.http.post("/kwn/v1/subscriptions", json={"url": url, "events": events})

    def created(self, url: str, events: list[str]) -> dict[str, Any]:
        response = self.create(url, events)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture
def api(emulator: EmulatorHandle) -> Iterator[Api]:
    client = Api(emulator)
    with client.http:
        yield client

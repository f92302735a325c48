"""Serve the emulator in this process: ``run_emulator(config, host, port)``.

The one way to start it, for ``knoxhook emulator run``, ``knoxhook demo`` and the test
helpers: build the app, serve it on uvicorn in a background thread
(``knoxhook.serving.serve_in_thread``: binds first, so ``port=0`` works), and close its
state when the block ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from knoxhook.emulator import DEFAULT_HOST
from knoxhook.emulator.app import Emulator, create_app
from knoxhook.emulator.config import EmulatorConfig
from knoxhook.serving import serve_in_thread

if TYPE_CHECKING:
    from knoxhook.emulator.faults import FaultMiddleware


@dataclass(frozen=True)
class RunningEmulator:
    """A serving emulator: where it is, and its in-process state."""

    base_url: str
    app: FaultMiddleware = field(repr=False)

    @property
    def emulator(self) -> Emulator:
        emulator: Emulator = self.app.emulator
        return emulator

    @property
    def config(self) -> EmulatorConfig:
        return self.emulator.config


@contextmanager
def run_emulator(
    config: EmulatorConfig | None = None, host: str = DEFAULT_HOST, port: int = 0
) -> Iterator[RunningEmulator]:
    """Serve the emulator on ``host:port`` until the block ends."""
    app = create_app(config)
    try:
        # h11 on asyncio's loop: the emulator is a test double, not a hot path, and
        # asyncio resolves names with socket.getaddrinfo (its egress check and the
        # tests that fake a resolver depend on it; uvloop resolves through libuv)
        with serve_in_thread(app, host, port, parser="h11") as server:
            yield RunningEmulator(server.base_url, app)
    finally:
        app.emulator.store.close()

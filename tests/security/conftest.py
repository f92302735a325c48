"""Fixtures of the security regression suite (issue 14).

- the CLI fixtures of ``tests/cli`` (``cli``, ``emulator``, ``knox``);
- ``open_umask``: the most permissive umask, so no file mode depends on it;
- ``wiretap``: a server on 127.0.0.1 that records every request it gets and answers a
  token request with a token; as ``HTTP_PROXY`` it stands for "the network" a plain
  http:// request to a remote host crosses, so a test can show nothing was sent (or,
  when the user allowed it, what was).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.cli.conftest import cli, emulator, knox, shared_emulator

__all__ = ["Tap", "cli", "emulator", "knox", "shared_emulator"]


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@dataclass
class Tap:
    url: str
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)  # method, target, body


@pytest.fixture
def wiretap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tap]:
    """A recording server, installed as the HTTP proxy (``HTTP_PROXY``)."""
    seen: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            seen.append((self.command, self.path, self.rfile.read(length)))
            if self.path.endswith("/oauth2/token"):
                status, body = 200, {"access_token": "tapped", "expires_in": 600}
            else:
                status, body = 404, {"code": "NOT_FOUND", "message": "tap"}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", url)
    try:
        yield Tap(url, seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

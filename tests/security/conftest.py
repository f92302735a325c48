"""Fixtures of the security regression suite (issue 14).

- the CLI fixtures of ``tests/cli`` (``cli``, ``emulator``, ``knox``);
- ``open_umask``: the most permissive umask, so no file mode depends on it;
- ``trusted``/``attacker``: the 'Knox' signer and someone else's; ``key_server``
  serves the attacker's key (JWKS, PEM) and records who asks;
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
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.cli.conftest import cli, emulator, knox, shared_emulator
from tests.receiver.signing import Signer, b64url

__all__ = ["Tap", "cli", "emulator", "knox", "recording_server", "shared_emulator"]


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


@contextmanager
def recording_server(answers: dict[str, tuple[int, bytes]] | None = None) -> Iterator[Tap]:
    """A server on 127.0.0.1 recording every request; ``answers`` maps a path suffix to
    (status, body); a token request gets a token; anything else a 404."""
    seen: list[tuple[str, str, bytes]] = []
    token = json.dumps({"access_token": "tapped", "expires_in": 600}).encode()
    table = {"/oauth2/token": (200, token), **(answers or {})}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            seen.append((self.command, self.path, self.rfile.read(length)))
            status, data = next(
                (answer for suffix, answer in table.items() if self.path.endswith(suffix)),
                (404, b'{"code": "NOT_FOUND", "message": "tap"}'),
            )
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
    try:
        yield Tap(f"http://127.0.0.1:{server.server_port}", seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def wiretap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tap]:
    """A recording server, installed as the HTTP proxy (``HTTP_PROXY``)."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with recording_server() as tap:
        monkeypatch.setenv("HTTP_PROXY", tap.url)
        yield tap


@pytest.fixture(scope="session")
def trusted() -> Signer:
    """The 'Knox' key and certificate: what every verifier here trusts."""
    return Signer.create()


@pytest.fixture(scope="session")
def attacker() -> Signer:
    """Someone else's key and self-signed certificate."""
    return Signer.create()


@pytest.fixture(scope="session")
def key_server(attacker: Signer) -> Iterator[Tap]:
    """Serves the attacker's key as a JWKS and a PEM: fetching it would make a forgery
    verify, so a request here is a failure even before the verdict."""
    numbers = attacker.key.public_key().public_numbers()

    def b64int(value: int) -> str:
        return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"), padded=False)

    jwk = {
        "kty": "RSA",
        "alg": "RS256",
        "kid": "evil",
        "n": b64int(numbers.n),
        "e": b64int(numbers.e),
    }
    answers = {
        "/jwks.json": (200, json.dumps({"keys": [jwk]}).encode()),
        "/cert.pem": (200, attacker.pem),
    }
    with recording_server(answers) as tap:
        yield tap

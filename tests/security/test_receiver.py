"""The audit's passing receiver cases, kept passing, against a real ``knoxhook listen``
child process on 127.0.0.1 (under ``umask 000``), stopped by its PID:

- a 1 GiB body streamed at it is refused (413) while its memory stays flat: its peak
  RSS grows by less than ``RSS_BOUND``, whatever the size limit (1 MiB, or 16 MiB);
- every forgery of ``test_forgery`` is refused with a 4xx (never 200, never 5xx) and
  recorded as rejected, while the genuine callback is accepted; no key is fetched;
- the record and the nonce store it creates are 0600 in 0700 directories.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest

from knoxhook.receiver.recorder import read_records
from tests.receiver.signing import Signer
from tests.security.conftest import Tap
from tests.security.forging import BODY, forgeries, headers, jws, rs256

GIB = 1024**3
RSS_BOUND = 64 * 1024 * 1024  # bytes: room for a 16 MiB limit, buffers and noise
STREAM_SECONDS = 60.0  # the whole 1 GiB attempt, at most
CHUNK = 1024 * 1024


@dataclass
class Listener:
    url: str
    pid: int
    record: Path
    state: Path


def vm(pid: int, field: str) -> int:
    """``VmRSS``/``VmHWM`` of ``pid`` in bytes, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


@pytest.fixture
def listener(tmp_path: Path, trusted: Signer) -> Iterator[Listener]:
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read the receiver's memory")
    cert = tmp_path / "knox.pem"
    cert.write_bytes(trusted.pem)
    state = tmp_path / "state" / "receiver"
    record = state / "callbacks.ndjson"
    proc = subprocess.Popen(
        [sys.executable, "-m", "knoxhook", "listen", "--port", "0", "--json",
         "--cert", str(cert), "--record", str(record), "--nonce-db", str(state / "nonces.db")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, umask=0,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=30):
            raise AssertionError("knoxhook listen did not start within 30 s")
        event = json.loads(proc.stdout.readline())
        assert event["kind"] == "listening"
        yield Listener(event["url"], proc.pid, record, state)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def stream(url: str, size: int) -> tuple[bytes, int]:
    """POST ``size`` declared bytes to ``url``, sending until the receiver stops reading
    or closes (or all is sent); (the status line, bytes sent)."""
    parts = urlsplit(url)
    sent = 0
    deadline = time.monotonic() + STREAM_SECONDS
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(
            (
                f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {size}\r\n"
                "X-WSM-SIGNATURE: e30.e30.c2ln\r\nx-knox-nonce: big\r\n\r\n"
            ).encode()
        )
        chunk = b" " * CHUNK
        sock.settimeout(2.0)  # blocked this long: the receiver stopped reading
        try:
            while sent < size and time.monotonic() < deadline:
                sent += sock.send(chunk[: min(CHUNK, size - sent)])
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(10.0)
        try:
            answer = sock.recv(4096)
        except (TimeoutError, ConnectionResetError):
            answer = b""
    return answer.split(b"\r\n", 1)[0], sent


def test_a_1_gib_streamed_body_is_refused_with_flat_memory(listener: Listener) -> None:
    before = vm(listener.pid, "VmHWM")
    status, sent = stream(listener.url, GIB)
    peak = vm(listener.pid, "VmHWM")
    assert status == b"HTTP/1.1 413 Request Entity Too Large", (status, sent)
    assert peak - before < RSS_BOUND, f"peak RSS grew {(peak - before) >> 20} MiB"
    assert sent > 16 * CHUNK  # well past any limit: the refusal came mid-stream
    # and it still serves: the next (genuine-shaped) request gets an answer
    assert httpx2.get(listener.url, timeout=10).status_code == 200
    [entry] = read_records(listener.record)
    assert (entry["status"], entry["reason"]) == (413, "body_too_large")


def test_forgeries_posted_to_the_receiver_are_rejected_and_recorded(
    listener: Listener, trusted: Signer, attacker: Signer, key_server: Tap
) -> None:
    statuses = {}
    with httpx2.Client(timeout=10) as http:
        for forgery in forgeries(trusted, attacker, key_server):
            signature = jws(forgery.jose, forgery.sign, True, True)
            answer = http.post(listener.url, content=BODY, headers=headers(signature))
            statuses[forgery.name] = answer.status_code
        genuine = jws({"alg": "RS256", "typ": "JWT"}, rs256(trusted), True, True)
        accepted = http.post(listener.url, content=BODY, headers=headers(genuine))
    assert {name: 400 <= code < 500 for name, code in statuses.items()} == dict.fromkeys(
        statuses, True
    ), statuses
    assert accepted.status_code == 200
    records = read_records(listener.record)
    assert [r["verdict"] for r in records] == ["rejected"] * len(statuses) + ["accepted"]
    assert key_server.requests == []
    modes = {
        str(p.relative_to(listener.state.parent)): stat.S_IMODE(os.lstat(p).st_mode)
        for p in [listener.state, *listener.state.iterdir()]
    }
    assert modes == {"receiver": 0o700} | {
        f"receiver/{p.name}": 0o600 for p in listener.state.iterdir()
    }, modes

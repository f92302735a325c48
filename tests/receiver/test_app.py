"""The receiver app on a real server: verdicts, statuses, records, forwarding, rotation."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx2
import pytest
from cryptography import x509
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from knoxhook.errors import TransportError
from knoxhook.receiver.recorder import read_records
from knoxhook.serving import serve_in_thread
from tests.receiver.conftest import Running
from tests.receiver.signing import Signer

Start = Callable[..., AbstractContextManager[Running]]


def test_valid_callback_is_accepted_recorded_and_reported(
    start_receiver: Start, knox: Signer
) -> None:
    body, headers = knox.callback(nonce="nonce-1")
    with start_receiver() as rx:
        response = httpx2.post(rx.url, content=body, headers=headers, timeout=10)
    assert response.status_code == 200
    assert response.json() == {
        "status": "accepted",
        "event": "KDMS_DEVICE_UPLOAD",
        "subscriptionId": "63689d7e4ee2721f7b50d2b1",
        "nonce": "nonce-1",
    }
    (line,) = read_records(rx.record)
    assert line["verdict"] == "accepted"
    assert line["status"] == 200
    assert line["reason"] is None
    assert line["event"] == "KDMS_DEVICE_UPLOAD"
    assert line["subscriptionId"] == "63689d7e4ee2721f7b50d2b1"
    assert line["nonce"] == "nonce-1"
    assert line["trace_id"] == headers["X-WSM-TRACEID"]
    assert line["form"] == "raw-body/padded/detached"
    assert line["headers"]["x-wsm-signature"] == headers["X-WSM-SIGNATURE"]
    assert line["body"] == body.decode()
    assert line["body_source"] == "received"
    assert line["received_at"].endswith("Z")
    assert [v.verdict for v in rx.verdicts] == ["accepted"]


def test_refusals_get_4xx_with_the_reason_and_are_recorded(
    start_receiver: Start, knox: Signer
) -> None:
    other = Signer.create()
    body, headers = knox.callback(nonce="n-replayed")
    forged_body, forged_headers = other.callback()
    no_sig = {k: v for k, v in headers.items() if k != "X-WSM-SIGNATURE"}
    with start_receiver(max_body_bytes=4096) as rx, httpx2.Client(timeout=10) as http:
        answers = [
            http.post(rx.url, content=body, headers=headers),
            http.post(rx.url, content=body, headers=headers),  # replay
            http.post(rx.url, content=body + b" ", headers=headers),  # tampered
            http.post(rx.url, content=forged_body, headers=forged_headers),  # other key
            http.post(rx.url, content=body, headers=no_sig),
            http.post(rx.url, content=b"{" * 5000, headers=headers),
        ]
        probe = http.get(rx.url)
    got = [(a.status_code, a.json().get("reason")) for a in answers]
    assert got == [
        (200, None),
        (409, "replayed_nonce"),
        (400, "bad_signature"),
        (400, "bad_signature"),
        (400, "missing_signature"),
        (413, "body_too_large"),
    ]
    assert probe.status_code == 200
    assert probe.json()["status"] == "ready"
    records = read_records(rx.record)
    assert [(r["verdict"], r["status"], r["reason"]) for r in records] == [
        ("accepted" if s == 200 else "rejected", s, r) for s, r in got
    ]
    assert "already seen" in records[1]["message"]


def test_a_forgery_does_not_burn_the_nonce_of_the_real_callback(
    start_receiver: Start, knox: Signer
) -> None:
    body, headers = knox.callback(nonce="shared")
    with start_receiver() as rx, httpx2.Client(timeout=10) as http:
        assert http.post(rx.url, content=body + b"x", headers=headers).status_code == 400
        assert http.post(rx.url, content=body, headers=headers).status_code == 200


def _capture_app(seen: list[dict[str, Any]], status: int) -> Starlette:
    async def hook(request: Request) -> JSONResponse:
        seen.append({"body": await request.body(), "headers": dict(request.headers)})
        return JSONResponse({"ok": True}, status_code=status)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def test_accepted_callbacks_are_forwarded_byte_for_byte_and_status_reported(
    start_receiver: Start, knox: Signer
) -> None:
    seen: list[dict[str, Any]] = []
    body, headers = knox.callback()
    with serve_in_thread(_capture_app(seen, 202)) as app_server:
        forward_to = app_server.base_url + "/hook"
        with start_receiver(forward_to=forward_to) as rx, httpx2.Client(timeout=10) as http:
            assert http.post(rx.url, content=body, headers=headers).status_code == 200
            assert http.post(rx.url, content=body + b" ", headers=headers).status_code == 400
    assert len(seen) == 1  # the refused one is not forwarded
    assert seen[0]["body"] == body
    assert seen[0]["headers"]["x-wsm-signature"] == headers["X-WSM-SIGNATURE"]
    assert seen[0]["headers"]["x-knox-nonce"] == headers["x-knox-nonce"]
    assert seen[0]["headers"]["x-knoxhook-verified"] == "raw-body/padded/detached"
    assert rx.verdicts[0].forward == {
        "mode": "sync",
        "url": forward_to,
        "status": 202,
        "error": None,
    }
    assert read_records(rx.record)[0]["forward"]["status"] == 202


def test_forwarding_to_a_dead_app_answers_502_and_the_resend_is_accepted_not_a_replay(
    start_receiver: Start, knox: Signer
) -> None:
    body, headers = knox.callback()
    seen: list[dict[str, Any]] = []
    with serve_in_thread(_capture_app([], 200)) as dead:
        url = dead.base_url + "/hook"
    with start_receiver(forward_to=url) as rx:
        first = httpx2.post(rx.url, content=body, headers=headers, timeout=10)
        assert first.status_code == 502
        assert first.json()["status"] == "forward_failed"
        forward = rx.verdicts[0].forward
        assert forward is not None
        assert forward["status"] is None
        assert "Connect" in forward["error"]
        # the app is back on the same port: Knox's resend is verified and handed on
        host, port = url.split("//")[1].split("/")[0].split(":")
        with serve_in_thread(_capture_app(seen, 200), host, int(port)):
            again = httpx2.post(rx.url, content=body, headers=headers, timeout=10)
        assert again.status_code == 200
        # once handed on, the nonce is spent: a third copy is a replay
        third = httpx2.post(rx.url, content=body, headers=headers, timeout=10)
        assert third.status_code == 409
    assert len(seen) == 1
    assert seen[0]["body"] == body
    assert [v.status for v in rx.verdicts] == [502, 200, 409]


def test_an_app_refusing_with_4xx_is_reported_and_knox_gets_200(
    start_receiver: Start, knox: Signer
) -> None:
    body, headers = knox.callback()
    with serve_in_thread(_capture_app([], 422)) as app_server:
        url = app_server.base_url + "/hook"
        with start_receiver(forward_to=url) as rx:
            answer = httpx2.post(rx.url, content=body, headers=headers, timeout=10)
    assert answer.status_code == 200
    assert rx.verdicts[0].forward == {
        "mode": "sync",
        "url": url,
        "status": 422,
        "error": None,
    }


class RotatingProvider:
    """Stored certificate = old key; a 'download' returns the new one."""

    refreshable = True

    def __init__(self, old: x509.Certificate, new: x509.Certificate, fail: bool = False) -> None:
        self.certs, self.new, self.fail = [old], new, fail
        self.refreshes = 0
        self.lock = threading.Lock()

    def current(self) -> list[x509.Certificate]:
        return self.certs

    def refresh(self) -> list[x509.Certificate]:
        with self.lock:
            self.refreshes += 1
        if self.fail:
            raise TransportError("cannot reach Knox")
        self.certs = [self.new]
        return self.certs


def test_rotation_refreshes_once_then_accepts_and_reports_fingerprints(
    start_receiver: Start, knox: Signer
) -> None:
    old = Signer.create()
    provider = RotatingProvider(old.cert, knox.cert)
    first, h1 = knox.callback()
    forged, h2 = Signer.create().callback()
    with start_receiver(provider) as rx, httpx2.Client(timeout=10) as http:
        assert http.post(rx.url, content=first, headers=h1).status_code == 200
        throttled = http.post(rx.url, content=forged, headers=h2)
    # the forgery right after does not trigger a download; it is answered 503 (retryable),
    # since a genuine callback with yet another key would be refused the same way
    assert provider.refreshes == 1
    assert (throttled.status_code, throttled.json()["reason"]) == (
        503,
        "certificate_refresh_throttled",
    )
    assert throttled.headers["retry-after"] == "5"
    rotation = rx.verdicts[0].rotation
    assert rotation is not None
    assert rotation["old"] == [
        old.cert.fingerprint(
            __import__("cryptography.hazmat.primitives.hashes", fromlist=["x"]).SHA256()
        ).hex()
    ]
    assert rotation["new"] == [rx.verdicts[0].certificate]
    assert read_records(rx.record)[0]["rotation"] == rotation


def test_rotation_that_cannot_download_answers_503_so_knox_retries(
    start_receiver: Start, knox: Signer
) -> None:
    provider = RotatingProvider(Signer.create().cert, knox.cert, fail=True)
    body, headers = knox.callback()
    with start_receiver(provider) as rx:
        answer = httpx2.post(rx.url, content=body, headers=headers, timeout=10)
    assert (answer.status_code, answer.json()["reason"]) == (503, "certificate_refresh_failed")
    assert answer.json()["status"] == "unavailable"
    assert rx.verdicts[0].rotation == {
        "old": rx.verdicts[0].rotation["old"],  # type: ignore[index]
        "new": [],
        "error": ["cannot reach Knox"],
    }


def test_non_utf8_body_prefix_is_recorded_exactly_in_base64(
    start_receiver: Start, knox: Signer
) -> None:
    body = b'{"event": "\xff"}'
    _, headers = knox.callback(body=body)
    with start_receiver() as rx:
        answer = httpx2.post(rx.url, content=body, headers=headers, timeout=10)
    assert (answer.status_code, answer.json()["reason"]) == (400, "body_not_json")
    (line,) = read_records(rx.record)
    import base64

    assert base64.b64decode(line["body_base64"]) == body
    assert line["body_truncated"] is False
    assert line["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert json.dumps(line)  # the record itself is valid JSON


def test_the_same_callback_sent_concurrently_is_accepted_exactly_once(
    start_receiver: Start, knox: Signer
) -> None:
    body, headers = knox.callback(nonce="race")
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def send() -> None:
        with httpx2.Client(timeout=10) as http:
            barrier.wait(timeout=10)
            statuses.append(http.post(rx.url, content=body, headers=headers).status_code)

    with start_receiver() as rx:
        threads = [threading.Thread(target=send) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        again = httpx2.post(rx.url, content=body, headers=headers, timeout=10)
    # one is kept; the others saw it done (409) or still being kept (503: retry later)
    assert statuses.count(200) == 1
    assert set(statuses) <= {200, 409, 503}
    assert len(statuses) == 8
    assert again.status_code == 409  # once kept, every resend is a replay


def test_metrics_count_callbacks_by_verdict_and_reason(start_receiver: Start, knox: Signer) -> None:
    body, headers = knox.callback(nonce="m-1")
    with start_receiver() as rx, httpx2.Client(timeout=10) as http:
        http.post(rx.url, content=body, headers=headers)
        http.post(rx.url, content=body, headers=headers)  # replay
        http.post(rx.url, content=body + b" ", headers=headers)  # tampered
        page = http.get(rx.url.rstrip("/") + "/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain; version=")
    text = page.text
    assert 'knoxhook_callbacks_total{reason="",verdict="accepted"} 1.0' in text
    assert 'knoxhook_callbacks_total{reason="replayed_nonce",verdict="rejected"} 1.0' in text
    assert 'knoxhook_callbacks_total{reason="bad_signature",verdict="rejected"} 1.0' in text
    assert "knoxhook_callback_seconds_count 3.0" in text
    assert "knoxhook_verify_seconds_count 3.0" in text
    assert "knoxhook_forward_in_flight 0.0" in text


def test_routes_answer_404_405_and_head_without_a_framework(start_receiver: Start) -> None:
    """The receiver is its own ASGI dispatch (no Starlette on the hot path): an unknown
    path is 404, a wrong method 405 with Allow, HEAD is GET without a body, all JSON."""
    with start_receiver(path="/knox") as rx, httpx2.Client(timeout=10) as http:
        base = rx.url.rsplit("/", 1)[0]
        missing = http.get(base + "/nope")
        wrong = http.delete(rx.url)
        wrong_probe = http.post(base + "/healthz")
        head = http.head(base + "/healthz")
        probe = http.get(rx.url)
    assert (missing.status_code, missing.json()) == (404, {"status": "not_found"})
    assert missing.headers["content-type"] == "application/json"
    assert (wrong.status_code, wrong.json()) == (405, {"status": "method_not_allowed"})
    assert wrong.headers["allow"] == "GET, HEAD, POST"
    assert (wrong_probe.status_code, wrong_probe.headers["allow"]) == (405, "GET, HEAD")
    assert (head.status_code, head.content) == (200, b"")
    assert int(head.headers["content-length"]) > 0  # what the GET would carry
    assert probe.json() == {"status": "ready", "receiver": "knoxhook"}
    assert rx.verdicts == []  # none of these is a callback


def test_a_lifespan_that_fails_to_start_is_reported_to_the_server(knox: Signer) -> None:
    """ASGI lifespan: a store that cannot open its hand-off fails startup (the server
    then refuses to serve) instead of serving without it."""
    import asyncio

    from knoxhook.receiver.app import StaticCertificates, create_receiver
    from knoxhook.receiver.nonces import MemoryNonceStore

    class BrokenHandoff:
        async def open(self, delivered: Any) -> None:
            raise OSError("the outbox disk is gone")

    rx = create_receiver(
        StaticCertificates([knox.cert]), nonce_store=MemoryNonceStore(), handoff=BrokenHandoff()
    )
    sent: list[dict[str, Any]] = []
    inbox = [{"type": "lifespan.startup"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await rx({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)

    with pytest.raises(OSError, match="outbox disk is gone"):
        asyncio.run(run())
    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
    assert "the outbox disk is gone" in sent[0]["message"]


def test_the_receiver_mounted_under_another_app_serves_its_routes_there(knox: Signer) -> None:
    """``Mount("/knox", receiver)`` in your own Starlette app: the receiver's routes are
    relative to the mount (ASGI ``root_path``)."""
    from starlette.routing import Mount

    from knoxhook.receiver.app import StaticCertificates, create_receiver
    from knoxhook.receiver.nonces import MemoryNonceStore

    receiver = create_receiver(StaticCertificates([knox.cert]), nonce_store=MemoryNonceStore())

    async def home(request: Request) -> JSONResponse:
        return JSONResponse({"home": True})

    outer = Starlette(routes=[Route("/", home), Mount("/knox", app=receiver)])
    body, headers = knox.callback(nonce="mounted-1")
    with serve_in_thread(outer) as server, httpx2.Client(timeout=10) as http:
        base = server.base_url
        accepted = http.post(base + "/knox/", content=body, headers=headers)
        health = http.get(base + "/knox/healthz")
        home_page = http.get(base + "/")
    assert (accepted.status_code, accepted.json()["nonce"]) == (200, "mounted-1")
    assert health.json() == {"status": "ready", "receiver": "knoxhook"}
    assert home_page.json() == {"home": True}


def test_headers_are_redacted_and_checked_whatever_case_the_server_gives_them() -> None:
    """ASGI servers lower-case header names; one that does not must not slip a secret
    into the record, nor a second signature past the duplicate check."""
    from knoxhook.receiver.body import scan_headers

    lookup, record, problem = scan_headers(
        [
            (b"Authorization", b"Bearer SECRET"),
            (b"X-WSM-SIGNATURE", b"a.b.c"),
            (b"x-wsm-signature", b"d.e.f"),
        ]
    )
    assert record["authorization"] == "[redacted]"
    assert record["x-wsm-signature"] == "a.b.c, d.e.f"
    assert lookup["authorization"] == "Bearer SECRET"  # the lookup is not the record
    assert problem is not None
    assert problem.reason == "duplicate_header"


def test_the_receiver_timestamp_is_what_rfc3339_of_now_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``utc_now_text`` (the receiver's cheap "now") against ``rfc3339`` of the same
    moment, across many moments, rounding included."""
    from knoxhook import timestamps

    moments = [1764648000 + i / 997 for i in range(3000)] + [1764648000.9995, 1764647999.99951]
    clock: list[float] = [0.0]
    monkeypatch.setattr(timestamps.time, "time", lambda: clock[0])
    for moment in moments:
        clock[0] = moment
        assert timestamps.utc_now_text() == timestamps.rfc3339(moment, milliseconds=True), moment


def test_a_root_path_is_stripped_only_at_a_path_boundary(knox: Signer) -> None:
    import asyncio

    from knoxhook.receiver.app import StaticCertificates, create_receiver
    from knoxhook.receiver.nonces import MemoryNonceStore

    rx = create_receiver(
        StaticCertificates([knox.cert]), nonce_store=MemoryNonceStore(), path="/knox"
    )

    async def status(path: str, root: str) -> int:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": path, "root_path": root, "headers": []}
        await rx(scope, receive, send)
        return int(sent[0]["status"])

    assert asyncio.run(status("/kno/healthz", "/kno")) == 200
    # "/kno" is no prefix of "/knox": the receiver's own path, not "x" (it was a 404)
    assert asyncio.run(status("/knox", "/kno")) == 200
    assert asyncio.run(status("/healthz", "/kno")) == 200  # a server that strips it itself

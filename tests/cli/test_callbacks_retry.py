"""`knoxhook callbacks retry --to URL`: outbox letters delivered from the command line to
another URL than listen's --forward-to (the app moved), with the bytes and headers a
delivery sends; a letter taken is delivered for good, one refused again is kept. Against
real apps on 127.0.0.1 (``tests.receiver.handoff_app.App``) and a real listen process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from knoxhook.receiver.forwarder import handoff_headers
from knoxhook.receiver.handoff.outbox import Outbox, Row
from tests.cli.conftest import Cli
from tests.cli.test_listen import Listener
from tests.receiver.handoff_app import App
from tests.receiver.signing import Signer

BODIES = {"n-1": b'{"a":1}', "n-2": b"\xff\xfe not UTF-8", "n-3": b"{}"}


def _headers(key: str) -> dict[str, str]:
    received = {
        "content-type": "application/json",
        "x-wsm-signature": f"sig-of-{key}",
        "x-wsm-traceid": f"trace-{key}",
        "x-knox-nonce": key,
    }
    return handoff_headers(received, "raw", "received", key)


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    """Dead letters #1 (refused 410) and #2 (out of retries); #3 pending (due in 1 h)."""
    from knoxhook.receiver.handoff.outbox import Parcel

    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    for key, body in BODIES.items():
        parcel = Parcel(
            key, key, "KDMS_DEVICE_UPLOAD", "sub", "2026-01-01T00:00:00Z", body, _headers(key)
        )
        box.put(parcel, 1.0)
    one, two, three = box.lease(2.0, 3, 30)
    box.dead(one.id, 3.0, "app_refused", 410, None)
    box.dead(two.id, 3.0, "retries_exhausted", None, "ConnectError: refused")
    box.retry_later(three.id, time.time() + 3600, 503, None)
    box.close()
    return path


def _rows(path: Path) -> dict[int, Row]:
    box = Outbox(path)
    try:
        return {row.id: row for row in box.rows(("pending", "dead", "delivered"))}
    finally:
        box.close()


def _assert_sent_as_queued(app: App, key: str) -> None:
    body, headers = app.taken[key]
    assert body == BODIES[key]
    for name, value in _headers(key).items():
        assert headers[name.lower()] == value, name
    assert headers["idempotency-key"] == key


def test_retry_to_delivers_dead_letters_to_the_new_url_with_their_bytes_and_headers(
    cli: Cli, outbox: Path
) -> None:
    with App() as moved:
        r = cli("callbacks", "retry", "--all", "--to", moved.url, "--outbox", str(outbox), "--json")
    assert r.code == 0, r.err
    report = r.json()
    assert (report["delivered"], report["failed"]) == (2, 0)
    assert [(x["id"], x["nonce"], x["outcome"], x["status"]) for x in report["results"]] == [
        (1, "n-1", "delivered", 200), (2, "n-2", "delivered", 200),
    ]  # fmt: skip
    assert moved.posts == {"n-1": 1, "n-2": 1}  # --all: the dead letters, not pending #3
    _assert_sent_as_queued(moved, "n-1")
    _assert_sent_as_queued(moved, "n-2")
    rows = _rows(outbox)
    assert [(rows[i].state, rows[i].body) for i in (1, 2)] == [("delivered", None)] * 2
    assert rows[3].state == "pending"
    # delivered is for good: no longer a dead letter, and not retried again
    assert cli("callbacks", "list", "--dead", "--outbox", str(outbox), "--json").json() == []
    again = cli("callbacks", "retry", "1", "--to", moved.url, "--outbox", str(outbox), "--json")
    assert again.code == 6
    assert again.error()["message"] == f"no pending or dead callback #1 in {outbox}"


def test_retry_to_prints_one_line_per_letter_and_a_total_on_a_table_run(
    cli: Cli, outbox: Path
) -> None:
    with App() as moved:
        r = cli("callbacks", "retry", "1", "3", "--to", moved.url, "--outbox", str(outbox))
    assert r.code == 0, r.err
    assert r.out == ""
    assert r.err.splitlines() == [
        "#1 KDMS_DEVICE_UPLOAD nonce=n-1 -> 200: delivered",
        "#3 KDMS_DEVICE_UPLOAD nonce=n-3 -> 200: delivered",
        f"delivered 2 of 2 to {moved.url}",
    ]
    _assert_sent_as_queued(moved, "n-3")  # a pending one too (its next try was in 1 h)
    assert _rows(outbox)[3].state == "delivered"


def test_a_letter_refused_again_stays_dead_with_the_new_answer_and_exit_7(
    cli: Cli, outbox: Path
) -> None:
    with App() as moved:
        moved.answer = 422
        r = cli("callbacks", "retry", "2", "--to", moved.url, "--outbox", str(outbox), "--json")
    assert r.code == 7
    assert r.json()["results"] == [
        {"id": 2, "nonce": "n-2", "event": "KDMS_DEVICE_UPLOAD", "outcome": "dead",
         "status": 422, "error": None},
    ]  # fmt: skip
    error = r.error()
    assert error["message"] == (
        f"1 of 1 callbacks were not delivered to {moved.url}; they stay in the outbox"
    )
    assert error["hint"] == (
        "is the app up at that URL? retrying again is safe: it dedupes on Idempotency-Key"
    )
    assert moved.posts == {"n-2": 1}
    row = _rows(outbox)[2]
    assert (row.state, row.dead_reason, row.last_status, row.attempts) == (
        "dead", "app_refused", 422, 2,
    )  # fmt: skip
    assert row.body == BODIES["n-2"]  # kept: it can be retried again


def test_an_app_that_does_not_answer_keeps_dead_letters_dead_and_pending_ones_pending(
    cli: Cli, outbox: Path
) -> None:
    due = _rows(outbox)[3].next_at
    down = App()  # never started: connection refused
    r = cli("callbacks", "retry", "1", "3", "--to", down.url, "--outbox", str(outbox))
    assert r.code == 7
    lines = r.err.splitlines()
    assert lines[0].startswith("#1 KDMS_DEVICE_UPLOAD nonce=n-1 -> ConnectError: ")
    assert lines[0].endswith(": dead")
    assert lines[1].endswith(": pending")
    assert lines[2:] == [
        f"delivered 0 of 2 to {down.url}",
        f"Error: 2 of 2 callbacks were not delivered to {down.url}; they stay in the outbox",
        "Hint: is the app up at that URL? retrying again is safe: it dedupes on Idempotency-Key",
    ]
    rows = _rows(outbox)
    assert (rows[1].state, rows[1].dead_reason, rows[1].last_status) == (
        "dead", "retries_exhausted", None,
    )  # fmt: skip
    assert (rows[1].last_error or "").startswith("ConnectError: ")
    # pending: still listen's, due when it was, for its own --forward-to
    assert (rows[3].state, rows[3].next_at, rows[3].attempts) == ("pending", due, 2)


def test_a_letter_a_running_listen_is_posting_is_left_to_it(cli: Cli, outbox: Path) -> None:
    other = Outbox(outbox)  # another process's delivery loop, mid-post on #3
    try:
        (leased,) = other.lease(time.time() + 7200, 1, 600)
        assert leased.id == 3
        with App() as moved:
            r = cli("callbacks", "retry", "3", "--to", moved.url, "--outbox", str(outbox), "--json")
        assert moved.posts == {}
    finally:
        other.close()
    assert r.code == 7
    assert r.json()["results"] == [
        {"id": 3, "nonce": None, "event": None, "outcome": "busy", "status": None,
         "error": "being delivered by a running listen now"},
    ]  # fmt: skip


def test_retry_to_refuses_what_is_not_an_http_url_before_opening_the_outbox(
    cli: Cli, outbox: Path, tmp_path: Path
) -> None:
    bad = cli("callbacks", "retry", "1", "--to", "ftp://127.0.0.1/knox", "--outbox", str(outbox))
    assert bad.code == 2
    assert "Error: --to must be an http(s) URL: 'ftp://127.0.0.1/knox'" in bad.err
    both = cli("callbacks", "retry", "1", "--all", "--to", "http://127.0.0.1:9/", "--json")
    assert both.code == 2
    assert both.error()["message"] == "give ids or --all, not both"
    none = cli("callbacks", "retry", "--all", "--to", "http://127.0.0.1:9/",
               "--outbox", str(tmp_path / "none.sqlite3"))  # fmt: skip
    assert none.code == 2
    assert f"no outbox at {tmp_path / 'none.sqlite3'}" in none.err
    assert _rows(outbox)[1].state == "dead"  # untouched


def test_a_password_in_the_url_is_never_printed(cli: Cli, outbox: Path) -> None:
    with App() as moved:
        url = moved.url.replace("http://", "http://ops:s3cret-pw@")
        r = cli("callbacks", "retry", "1", "--to", url, "--outbox", str(outbox))
    assert r.code == 0, r.err
    assert "s3cret-pw" not in r.out + r.err
    assert r.err.splitlines()[-1].startswith("delivered 1 of 1 to http://ops:")


def test_dead_letters_of_a_real_listen_reach_the_app_where_it_moved(tmp_path: Path) -> None:
    """listen forwards to an app that refuses (410): dead letters; the app moves; `retry
    --all --to` delivers them, byte for byte, with listen's headers, as a process."""
    knox = Signer.create()
    cert = tmp_path / "knox.pem"
    cert.write_bytes(knox.pem)
    path = tmp_path / "outbox.sqlite3"
    sent = [knox.callback(nonce="e-1", payload={"i": 1}), knox.callback(nonce="e-2")]
    with App() as old:
        old.answer = 410
        rx = Listener("--cert", str(cert), "--nonce-db", ":memory:", "--forward-to", old.url,
                      "--outbox", str(path))  # fmt: skip
        try:
            with httpx2.Client(timeout=10) as http:
                statuses = [http.post(rx.url, content=b, headers=h).status_code for b, h in sent]
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and old.posts != {"e-1": 1, "e-2": 1}:
                time.sleep(0.05)
        finally:
            assert rx.stop() == 0
    assert statuses == [200, 200]
    assert {r.nonce: r.dead_reason for r in _rows(path).values()} == {
        "e-1": "app_refused", "e-2": "app_refused",
    }  # fmt: skip
    queued = {r.nonce: r.headers for r in _rows(path).values()}
    with App() as moved:
        done = subprocess.run(
            [sys.executable, "-m", "knoxhook", "callbacks", "retry", "--all", "--to", moved.url,
             "--outbox", str(path), "--json"],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "CI": "true"},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["delivered"] == 2
    for body, headers in sent:
        nonce = headers["x-knox-nonce"]
        got_body, got_headers = moved.taken[nonce]
        assert got_body == body
        assert got_headers["x-wsm-signature"] == headers["X-WSM-SIGNATURE"]
        assert got_headers["idempotency-key"] == nonce
        for name, value in queued[nonce].items():  # exactly what listen sent the old app
            assert got_headers[name.lower()] == value
    assert {r.state for r in _rows(path).values()} == {"delivered"}

"""`knoxhook callbacks list|show|retry|drop|replay`: over a real outbox file, and
replaying a real `listen --record` file to a real app on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from knoxhook.receiver.handoff.outbox import Outbox, Parcel
from tests.cli.conftest import Cli
from tests.cli.test_listen import Listener
from tests.receiver.handoff_app import App
from tests.receiver.signing import Signer


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    """Two dead letters (#1 refused 422, #2 out of retries) and one pending (#3)."""
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    for key, body in (("n-1", b'{"a":1}'), ("n-2", b"\xff\xfe"), ("n-3", b"{}")):
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        parcel = Parcel(
            key, key, "KDMS_DEVICE_UPLOAD", "sub", "2026-01-01T00:00:00Z", body, headers
        )
        box.put(parcel, 1.0)
    one, two, _ = box.lease(2.0, 3, 30)
    box.dead(one.id, 3.0, "app_refused", 422, None)
    box.dead(two.id, 3.0, "retries_exhausted", None, "ConnectError: refused")
    box.release_leases()
    box.close()
    return path


def test_list_and_show(cli: Cli, outbox: Path) -> None:
    listed = cli("callbacks", "list", "--outbox", str(outbox), "--json")
    assert listed.code == 0
    rows = listed.json()
    assert [(r["id"], r["state"], r["nonce"]) for r in rows] == [
        (1, "dead", "n-1"), (2, "dead", "n-2"), (3, "pending", "n-3"),
    ]  # fmt: skip
    assert list(rows[0]) == [
        "id", "state", "nonce", "event", "subscriptionId", "received_at", "attempts",
        "next_at", "last_status", "last_error", "dead_reason",
    ]  # fmt: skip
    assert (rows[0]["dead_reason"], rows[0]["last_status"], rows[0]["attempts"]) == (
        "app_refused", 422, 1,
    )  # fmt: skip
    dead = cli("callbacks", "list", "--dead", "--outbox", str(outbox), "--json").json()
    assert [r["id"] for r in dead] == [1, 2]
    table = cli("callbacks", "list", "--outbox", str(outbox))
    assert table.code == 0
    assert "retries_exhausted" in table.out
    shown = cli("callbacks", "show", "2", "--outbox", str(outbox), "--json")
    assert shown.code == 0
    data = shown.json()
    assert data["headers"] == {"Content-Type": "application/json", "Idempotency-Key": "n-2"}
    assert data["body_base64"] == "//4="  # not UTF-8: exactly, in base64
    assert data["last_error"] == "ConnectError: refused"


def test_errors_name_what_to_do(cli: Cli, outbox: Path, tmp_path: Path) -> None:
    missing = cli("callbacks", "list", "--outbox", str(tmp_path / "none.sqlite3"), "--json")
    assert missing.code == 2
    assert missing.error()["message"] == f"no outbox at {tmp_path / 'none.sqlite3'}"
    unknown = cli("callbacks", "show", "99", "--outbox", str(outbox), "--json")
    assert unknown.code == 6
    assert unknown.error()["message"] == f"no pending or dead callback #99 in {outbox}"
    assert unknown.error()["hint"] == "see the ids with `knoxhook callbacks list`"
    neither = cli("callbacks", "retry", "--outbox", str(outbox))
    assert neither.code == 2
    assert "give the ids (see `knoxhook callbacks list`), or --all" in neither.err
    both = cli("callbacks", "drop", "1", "--all", "--yes", "--outbox", str(outbox))
    assert both.code == 2
    assert "give ids or --all, not both" in both.err


def test_retry_requeues_and_drop_needs_yes_off_a_terminal(cli: Cli, outbox: Path) -> None:
    retried = cli("callbacks", "retry", "1", "--outbox", str(outbox), "--json")
    assert retried.code == 0
    assert retried.json() == {"requeued": 1, "ids": [1]}
    refused = cli("callbacks", "drop", "--all", "--outbox", str(outbox))
    assert refused.code == 2
    assert "refusing to drop callbacks without confirmation: not a terminal" in refused.err
    dropped = cli("callbacks", "drop", "--all", "--yes", "--outbox", str(outbox), "--json")
    assert dropped.json() == {"dropped": 1, "ids": [2]}  # the one dead letter left
    box = Outbox(outbox)
    rows = {r.id: (r.state, r.attempts) for r in box.rows()}
    box.close()
    assert rows == {1: ("pending", 0), 3: ("pending", 0)}


def test_replay_resends_recorded_callbacks_with_their_original_bytes_and_headers(
    tmp_path: Path,
) -> None:
    knox = Signer.create()
    cert = tmp_path / "knox.pem"
    cert.write_bytes(knox.pem)
    record = tmp_path / "r.ndjson"
    rx = Listener("--cert", str(cert), "--nonce-db", ":memory:", "--record", str(record))
    sent = [
        knox.callback(nonce="r-1", payload={"i": 1}),
        knox.callback(nonce="r-2", event="KG_DEVICE_LOCKED", payload={"i": 2}),
        knox.callback(nonce="r-3", payload={"name": "é ü"}),
    ]
    with httpx2.Client(timeout=10) as http:
        statuses = [http.post(rx.url, content=b, headers=h).status_code for b, h in sent]
        http.post(rx.url, content=sent[0][0] + b" ", headers=sent[0][1])  # a forgery
    assert rx.stop() == 0
    assert statuses == [200, 200, 200]
    cmd = [sys.executable, "-m", "knoxhook", "callbacks", "replay", "--record", str(record)]
    env = {**os.environ, "CI": "true"}
    with App() as app:
        done = subprocess.run(
            [*cmd, "--to", app.url, "--json"], capture_output=True, text=True, timeout=60,
            check=False, env=env,
        )  # fmt: skip
        only = subprocess.run(
            [*cmd, "--to", app.url, "-e", "KG_DEVICE_LOCKED", "--since", "1h"],
            capture_output=True, text=True, timeout=60, check=False, env=env,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["sent"], report["failed"]) == (3, 0)
    assert [r["nonce"] for r in report["results"]] == ["r-1", "r-2", "r-3"]
    assert {r["status"] for r in report["results"]} == {200}
    for body, headers in sent:
        got_body, got_headers = app.taken[headers["x-knox-nonce"]]
        assert got_body == body
        assert got_headers["x-wsm-signature"] == headers["X-WSM-SIGNATURE"]
        assert got_headers["x-wsm-traceid"] == headers["X-WSM-TRACEID"]
        assert got_headers["x-knoxhook-replay"] == "1"
    assert app.posts["r-2"] == 2  # the filtered run sent only r-2 again
    assert only.returncode == 0, only.stderr
    assert "replayed 1 of 1 to" in only.stderr
    # the app down: exit 7, one line, no traceback
    down = subprocess.run(
        [*cmd, "--to", App().url], capture_output=True, text=True, timeout=60, check=False,
        env=env,
    )  # fmt: skip
    assert down.returncode == 7
    assert "Error: 3 of 3 replayed callbacks were not taken by" in down.stderr
    assert "Traceback" not in down.stderr
    future = subprocess.run(
        [*cmd, "--to", App().url, "--since", "yesterday"], capture_output=True, text=True,
        timeout=60, check=False, env=env,
    )  # fmt: skip
    assert future.returncode == 2
    assert "--since must be an RFC 3339 time with a zone or a duration" in future.stderr


def test_replay_to_a_url_with_a_password_never_prints_it(tmp_path: Path) -> None:
    """An app that is down: exit 7 naming the URL, its password as ``***``."""
    from tests.receiver.handoff_app import free_port

    record = tmp_path / "r.ndjson"
    line = {
        "received_at": "2026-12-02T04:00:00.000Z", "verdict": "accepted", "event": "E",
        "nonce": "p-1", "headers": {"x-knox-nonce": "p-1"}, "body": "{}",
    }  # fmt: skip
    record.write_text(json.dumps(line) + "\n")
    url = f"http://app:hunter2@127.0.0.1:{free_port()}/knox"
    cmd = [sys.executable, "-m", "knoxhook", "callbacks", "replay", "--record", str(record)]
    done = subprocess.run(
        [*cmd, "--to", url],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "CI": "true"},
    )  # fmt: skip
    assert done.returncode == 7, done.stderr
    assert "hunter2" not in done.stdout + done.stderr
    assert "replayed 0 of 1 to http://app:***@127.0.0.1:" in done.stderr
    assert "1 of 1 replayed callbacks were not taken by http://app:***@" in done.stderr

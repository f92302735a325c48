"""`knoxhook listen` as a real server (subprocesses on 127.0.0.1): verdicts, output,
records, clean stop, port errors, stored certificate and rotation, reliability under
load with replays and forgeries, and replay protection across a `kill -9`."""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import httpx2
import pytest

from knoxhook import wire
from knoxhook.emulator.testing import EmulatorHandle
from knoxhook.receiver.recorder import read_records
from tests.receiver.signing import Signer


@pytest.fixture(scope="module")
def knox() -> Signer:
    return Signer.create()


class Listener:
    """`python -m knoxhook listen ...` in a subprocess; ``url`` once it is ready."""

    def __init__(
        self, *args: str, env: dict[str, str] | None = None, json_lines: bool = True
    ) -> None:
        cmd = [sys.executable, "-m", "knoxhook", "listen", "--port", "0", *args]
        if json_lines:
            cmd.append("--json")
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
            preexec_fn=_as_a_foreground_job,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        threading.Thread(
            target=self._pump, args=(self.proc.stdout, self.lines), daemon=True
        ).start()
        threading.Thread(target=self._collect, args=(self.proc.stderr,), daemon=True).start()
        self.url = self._wait_ready(json_lines)

    @staticmethod
    def _pump(stream: IO[str] | None, into: queue.Queue[str]) -> None:
        assert stream is not None
        for line in stream:
            into.put(line)

    def _collect(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self.err.append(line)

    def _wait_ready(self, json_lines: bool) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if json_lines:
                try:
                    first = json.loads(self.lines.get(timeout=0.2))
                except queue.Empty:
                    first = None
                if first is not None:
                    assert first["kind"] == "listening"
                    return str(first["url"])
            else:
                for line in list(self.err):
                    if line.startswith("listening on "):
                        return line.split()[2]
                time.sleep(0.05)
            if self.proc.poll() is not None:
                break
        self.proc.kill()
        raise AssertionError(f"listen did not start: {''.join(self.err)}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        time.sleep(0.1)  # let the pump threads drain
        return code

    def stdout_lines(self) -> list[str]:
        out = []
        while not self.lines.empty():
            out.append(self.lines.get())
        return out


@pytest.fixture
def cert_file(tmp_path: Path, knox: Signer) -> Path:
    path = tmp_path / "knox.pem"
    path.write_bytes(knox.pem)
    return path


def test_listen_verifies_records_prints_and_stops_cleanly(
    tmp_path: Path, knox: Signer, cert_file: Path
) -> None:
    record = tmp_path / "callbacks.ndjson"
    rx = Listener(
        "--cert",
        str(cert_file),
        "--record",
        str(record),
        "--nonce-db",
        str(tmp_path / "n.db"),
        "--path",
        "/knox",
    )
    assert rx.url.endswith("/knox")
    body, headers = knox.callback(nonce="n-1")
    with httpx2.Client(timeout=10) as http:
        answers = [
            http.post(rx.url, content=body, headers=headers).status_code,
            http.post(rx.url, content=body, headers=headers).status_code,
            http.post(rx.url, content=body.replace(b"1", b"9"), headers=headers).status_code,
        ]
    assert answers == [200, 409, 400]
    assert rx.stop() == 0
    callbacks = [json.loads(line) for line in rx.stdout_lines()]
    assert [(c["kind"], c["verdict"], c["reason"]) for c in callbacks] == [
        ("callback", "accepted", None),
        ("callback", "rejected", "replayed_nonce"),
        ("callback", "rejected", "bad_signature"),
    ]
    assert "stopped: 1 accepted, 2 rejected" in "".join(rx.err)
    assert "Traceback" not in "".join(rx.err)
    assert [r["verdict"] for r in read_records(record)] == ["accepted", "rejected", "rejected"]
    assert oct(record.stat().st_mode & 0o777) == "0o600"


def test_listen_prints_human_lines_without_json_and_ctrl_c_exits_0(
    knox: Signer, cert_file: Path
) -> None:
    rx = Listener("--cert", str(cert_file), "--nonce-db", ":memory:", json_lines=False)
    body, headers = knox.callback(nonce="human")
    assert httpx2.post(rx.url, content=body, headers=headers, timeout=10).status_code == 200
    assert httpx2.post(rx.url, content=b"{}", headers={}, timeout=10).status_code == 400
    assert rx.stop(signal.SIGINT) == 0
    out = rx.stdout_lines()
    assert "accepted KDMS_DEVICE_UPLOAD subscription=63689d7e4ee2721f7b50d2b1 nonce=human" in out[0]
    assert "rejected 400 missing_signature: no X-WSM-SIGNATURE header" in out[1]
    assert "stopped: 1 accepted, 1 rejected" in "".join(rx.err)


def test_listen_on_a_busy_port_is_a_usage_error(cert_file: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "knoxhook",
                "listen",
                "--port",
                str(port),
                "--cert",
                str(cert_file),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_listen_without_cert_or_credentials_is_not_configured(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "knoxhook", "listen", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert result.stderr.startswith("Error: no client id")


def _subscribe(emu: EmulatorHandle, url: str) -> None:
    created = httpx2.post(
        emu.base_url + wire.subscriptions_path(),
        json={wire.F_URL: url, wire.F_EVENTS: ["KDMS_DEVICE_UPLOAD"]},
        headers={"Authorization": f"Bearer {emu.token()}"},
        timeout=10,
    )
    assert created.status_code in (200, 201), created.text


def test_listen_with_stored_certificate_survives_a_key_rotation(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    env = {
        "KNOXHOOK_BASE_URL": emulator.base_url,
        "KNOXHOOK_CLIENT_ID": emulator.client_id,
        "KNOXHOOK_CLIENT_SECRET": emulator.client_secret,
    }
    rx = Listener("--nonce-db", str(tmp_path / "n.db"), env=env)
    _subscribe(emulator, rx.url)
    first = emulator.trigger("KDMS_DEVICE_UPLOAD")
    emulator.set_certificate("rotate-new-key")
    second = emulator.trigger("KDMS_DEVICE_UPLOAD")
    assert rx.stop() == 0
    callbacks = [json.loads(line) for line in rx.stdout_lines()]
    assert [c["verdict"] for c in callbacks] == ["accepted", "accepted"], (first, second, rx.err)
    rotation = callbacks[1]["rotation"]
    assert rotation["old"] != rotation["new"]
    assert rotation["new"] == [callbacks[1]["certificate_sha256"]]
    assert "certificate refreshed after a failed signature" in "".join(rx.err)


# --- reliability ----------------------------------------------------------------------------


def _plan(knox: Signer, n: int, seed: int) -> list[list[tuple[str, bytes, dict[str, str], int]]]:
    """Per-client-thread sequences of (kind, body, headers, expected status).

    85% fresh valid callbacks, 10% replays of one already answered by the same thread,
    5% forgeries (tampered body). Across threads, nonces never collide.
    """
    rng = random.Random(seed)
    threads: list[list[tuple[str, bytes, dict[str, str], int]]] = [[] for _ in range(4)]
    sent: list[list[tuple[bytes, dict[str, str]]]] = [[] for _ in range(4)]
    for i in range(n):
        t = i % 4
        roll = rng.random()
        if roll < 0.10 and sent[t]:
            body, headers = rng.choice(sent[t])
            threads[t].append(("replay", body, headers, 409))
        elif roll < 0.15:
            body, headers = knox.callback(nonce=f"forged-{i}", payload={"i": i})
            threads[t].append(("forged", body.replace(b'"i"', b'"j"'), headers, 400))
        else:
            body, headers = knox.callback(nonce=f"valid-{i}", payload={"i": i})
            threads[t].append(("valid", body, headers, 200))
            sent[t].append((body, headers))
    return threads


def _send_all(
    url: str, plan: list[list[tuple[str, bytes, dict[str, str], int]]]
) -> list[tuple[str, str, int, int]]:
    results: list[tuple[str, str, int, int]] = []
    lock = threading.Lock()

    def client(items: list[tuple[str, bytes, dict[str, str], int]]) -> None:
        with httpx2.Client(timeout=30) as http:
            for kind, body, headers, expected in items:
                status = http.post(url, content=body, headers=headers).status_code
                with lock:
                    results.append((kind, headers["x-knox-nonce"], expected, status))

    workers = [threading.Thread(target=client, args=(items,)) for items in plan]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    return results


def test_2000_callbacks_with_replays_and_forgeries_no_false_verdict(
    tmp_path: Path, knox: Signer, cert_file: Path
) -> None:
    plan = _plan(knox, 2000, seed=4)
    record = tmp_path / "r.ndjson"
    rx = Listener(
        "--cert", str(cert_file), "--record", str(record), "--nonce-db", str(tmp_path / "n.db")
    )
    started = time.monotonic()
    results = _send_all(rx.url, plan)
    elapsed = time.monotonic() - started
    assert rx.stop() == 0
    assert len(results) == 2000
    kinds = {k: sum(1 for r in results if r[0] == k) for k in ("valid", "replay", "forged")}
    assert kinds["replay"] >= 150, kinds
    assert kinds["forged"] >= 60, kinds
    wrong = [r for r in results if r[2] != r[3]]
    assert wrong == [], wrong[:5]  # no false accept, no false reject
    accepted = [r["nonce"] for r in read_records(record) if r["verdict"] == "accepted"]
    valid = sorted(r[1] for r in results if r[0] == "valid")
    assert sorted(accepted) == valid  # each valid callback recorded exactly once
    # refusals are recorded up to a rate per source (10/s, burst 20): the rest are counted
    refusals = [r for r in read_records(record) if r["verdict"] != "accepted"]
    suppressed = sum(r.get("suppressed", 0) for r in refusals)
    assert 20 <= len(refusals) + suppressed <= 2000 - len(valid)
    print(f"2000 callbacks in {elapsed:.1f} s ({2000 / elapsed:.0f}/s)")


def test_kill_9_mid_stream_then_restart_accepts_no_replay(
    tmp_path: Path, knox: Signer, cert_file: Path
) -> None:
    db = tmp_path / "nonces.sqlite3"
    callbacks = [knox.callback(nonce=f"k-{i}", payload={"i": i}) for i in range(400)]
    rx = Listener(
        "--cert", str(cert_file), "--nonce-db", str(db), "--record", str(tmp_path / "1.ndjson")
    )
    first_run: dict[str, int] = {}
    killed = threading.Event()

    def stream() -> None:
        with httpx2.Client(timeout=10) as http:
            for body, headers in callbacks:
                try:
                    first_run[headers["x-knox-nonce"]] = http.post(
                        rx.url, content=body, headers=headers
                    ).status_code
                except httpx2.HTTPError:
                    return  # the listener died under us
                if len(first_run) == 150:
                    killed.set()

    sender = threading.Thread(target=stream)
    sender.start()
    assert killed.wait(timeout=120)
    rx.proc.kill()  # SIGKILL, mid-stream
    rx.proc.wait(timeout=30)
    sender.join(timeout=60)
    accepted_before = {n for n, s in first_run.items() if s == 200}
    assert len(accepted_before) >= 150

    again = Listener(
        "--cert", str(cert_file), "--nonce-db", str(db), "--record", str(tmp_path / "2.ndjson")
    )
    with httpx2.Client(timeout=10) as http:
        second_run = {
            headers["x-knox-nonce"]: http.post(again.url, content=body, headers=headers).status_code
            for body, headers in callbacks
        }
    assert again.stop() == 0
    replays_accepted = [n for n in accepted_before if second_run[n] != 409]
    assert replays_accepted == []
    accepted_after = {n for n, s in second_run.items() if s == 200}
    assert not accepted_before & accepted_after
    assert len(accepted_before) + len(accepted_after) >= 399  # at most the in-flight one lost
    assert len(accepted_after) >= 400 - len(first_run) - 1
    # the records of both runs: no nonce accepted twice, and every 200 was recorded
    recorded = [
        r["nonce"]
        for name in ("1.ndjson", "2.ndjson")
        for r in read_records(tmp_path / name)
        if r["verdict"] == "accepted"
    ]
    assert len(recorded) == len(set(recorded))
    assert accepted_before | accepted_after <= set(recorded)


# --- production receiver (issue 13) ----------------------------------------------------------


def _send_to_replicas(
    replicas: tuple[Listener, Listener],
    plan: list[list[tuple[str, bytes, dict[str, str], int]]],
    *,
    join_timeout: float,
) -> list[tuple[str, str, int, int]]:
    """Send each thread's items of ``plan``, alternating replicas (so a replay goes to the
    other one); (kind, nonce, expected, status) per callback."""
    results: list[tuple[str, str, int, int]] = []
    lock = threading.Lock()

    def client(t: int, items: list[tuple[str, bytes, dict[str, str], int]]) -> None:
        with httpx2.Client(timeout=30) as http:
            for i, (kind, body, headers, expected) in enumerate(items):
                url = replicas[(i + t) % 2].url
                status = http.post(url, content=body, headers=headers).status_code
                with lock:
                    results.append((kind, headers["x-knox-nonce"], expected, status))

    workers = [threading.Thread(target=client, args=(t, items)) for t, items in enumerate(plan)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=join_timeout)
    return results


def test_two_listeners_on_one_nonce_db_never_accept_a_callback_twice(
    tmp_path: Path, knox: Signer, cert_file: Path
) -> None:
    """Two processes, one SQLite store, replays sent to either: 0 double accepts, no 5xx."""
    db = str(tmp_path / "shared.sqlite3")
    common = ["--cert", str(cert_file), "--nonce-db", db]
    one = Listener(*common, "--record", str(tmp_path / "1.ndjson"))
    two = Listener(*common, "--record", str(tmp_path / "2.ndjson"))
    plan = _plan(knox, 1200, seed=11)
    results = _send_to_replicas((one, two), plan, join_timeout=300)
    assert one.stop() == 0
    assert two.stop() == 0
    assert len(results) == 1200
    assert [r for r in results if r[3] >= 500] == []  # no "database is locked" 500/503
    assert [r for r in results if r[2] != r[3]] == []
    accepted = [
        r["nonce"]
        for name in ("1.ndjson", "2.ndjson")
        for r in read_records(tmp_path / name)
        if r["verdict"] == "accepted"
    ]
    assert len(accepted) == len(set(accepted))  # each accepted exactly once, across both
    assert sorted(accepted) == sorted(r[1] for r in results if r[0] == "valid")
    assert "Traceback" not in "".join(one.err + two.err)


def test_a_replay_under_a_fresh_nonce_is_refused_as_replayed_signature(
    knox: Signer, cert_file: Path, tmp_path: Path
) -> None:
    rx = Listener("--cert", str(cert_file), "--nonce-db", str(tmp_path / "n.db"))
    body, headers = knox.callback(nonce="original")
    with httpx2.Client(timeout=10) as http:
        first = http.post(rx.url, content=body, headers=headers)
        replay = http.post(rx.url, content=body, headers={**headers, "x-knox-nonce": "fresh-1"})
    assert rx.stop() == 0
    assert first.status_code == 200
    assert (replay.status_code, replay.json()["reason"]) == (409, "replayed_signature")


def test_record_on_a_full_disk_answers_503_and_knox_resend_is_accepted_later(
    knox: Signer, cert_file: Path, tmp_path: Path
) -> None:
    """Audit 13.4: the claim was burned before the record was written (3 of 3 lost)."""
    db = str(tmp_path / "n.db")
    full = Listener("--cert", str(cert_file), "--nonce-db", db, "--record", "/dev/full")
    body, headers = knox.callback(nonce="kept-later")
    with httpx2.Client(timeout=10) as http:
        answers = [http.post(full.url, content=body, headers=headers) for _ in range(3)]
    assert full.stop() == 0
    assert [(a.status_code, a.json()["reason"]) for a in answers] == [(503, "record_failed")] * 3
    assert answers[0].headers["retry-after"] == "5"
    assert "No space left on device" in answers[0].json()["message"]
    assert "stopped: 0 accepted, 3 unavailable, 0 rejected" in "".join(full.err)
    record = tmp_path / "r.ndjson"
    fixed = Listener("--cert", str(cert_file), "--nonce-db", db, "--record", str(record))
    resend = httpx2.post(fixed.url, content=body, headers=headers, timeout=10)
    assert fixed.stop() == 0
    assert resend.status_code == 200  # not 409: the failed attempts released their claim
    assert [r["verdict"] for r in read_records(record)] == ["accepted"]


def _as_a_foreground_job() -> None:
    """SIGINT as a terminal's foreground job gets it: pytest started as a background job
    of a non-interactive shell (CI, ``cmd &``) passes SIGINT on ignored, and Ctrl-C
    tests would then test nothing but that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_url(err_file: Path, proc: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if err_file.exists():
            for line in err_file.read_text().splitlines():
                if line.startswith("listening on "):
                    return line.split()[2]
        time.sleep(0.05)
    raise AssertionError("listen did not start")


def test_stdout_closed_by_head_never_changes_an_answer_and_listen_exits_0(
    knox: Signer, cert_file: Path
) -> None:
    """`listen --json | head -2`: after head exits, callbacks got 500 and listen never
    exited (audit 13). Now: stdout was the point, so listen stops cleanly."""
    cmd = f"{sys.executable} -m knoxhook listen --port 0 --json --cert {cert_file} "
    cmd += "--nonce-db :memory: 2>listen.err | head -2"
    proc = subprocess.Popen(
        ["sh", "-c", cmd], stdout=subprocess.PIPE, text=True, cwd=cert_file.parent
    )
    err_file = cert_file.parent / "listen.err"
    url = _wait_for_url(err_file, proc)  # head holds its first line until it has two
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(proc.stdout or ()), daemon=True)
    reader.start()
    statuses = []
    with httpx2.Client(timeout=10) as http:
        for i in range(4):
            body, headers = knox.callback(nonce=f"pipe-{i}", payload={"i": i, "x": "y" * 70_000})
            try:
                statuses.append(http.post(url, content=body, headers=headers).status_code)
            except httpx2.HTTPError:
                break  # listen stopped after stdout went away: no answer is a wrong one
    assert proc.wait(timeout=30) == 0
    reader.join(timeout=10)
    assert [json.loads(line)["kind"] for line in out] == ["listening", "callback"]
    err = err_file.read_text()
    assert statuses[:2] == [200, 200]
    assert set(statuses) == {200}
    assert "stdout was closed: stopping" in err
    assert "Traceback" not in err
    assert "BrokenPipe" not in err


def test_stdout_closed_with_a_record_keeps_serving(
    knox: Signer, cert_file: Path, tmp_path: Path
) -> None:
    record = tmp_path / "r.ndjson"
    cmd = [sys.executable, "-m", "knoxhook", "listen", "--port", "0", "--json"]
    cmd += ["--cert", str(cert_file), "--nonce-db", ":memory:", "--record", str(record)]
    with (tmp_path / "err").open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
    assert proc.stdout is not None
    url = json.loads(proc.stdout.readline())["url"]
    proc.stdout.close()  # our reader goes away
    with httpx2.Client(timeout=10) as http:
        statuses = []
        for i in range(3):
            body, headers = knox.callback(nonce=f"rec-{i}", payload={"i": i, "x": "y" * 70_000})
            statuses.append(http.post(url, content=body, headers=headers).status_code)
    assert statuses == [200, 200, 200]
    assert proc.poll() is None  # still serving
    proc.terminate()
    assert proc.wait(timeout=30) == 0
    assert len(read_records(record)) == 3
    err_text = (tmp_path / "err").read_text()
    assert "stdout was closed: still serving" in err_text
    assert "stopped: 3 accepted, 0 rejected" in err_text
    assert "Traceback" not in err_text


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/hook"


def test_forward_failures_are_forward_failed_and_the_callback_is_accepted_once(
    knox: Signer, cert_file: Path, tmp_path: Path
) -> None:
    """Audit 13: a callback retried 3 times with the app down was counted and recorded
    3 times as accepted. In the synchronous mode each attempt is forward_failed (502)."""
    record = tmp_path / "r.ndjson"
    dead = _dead_url()
    rx = Listener(
        "--cert", str(cert_file), "--nonce-db", ":memory:", "--record", str(record),
        "--forward-to", dead, "--forward-mode", "sync",
    )  # fmt: skip
    body, headers = knox.callback(nonce="retried")
    with httpx2.Client(timeout=10) as http:
        answers = [http.post(rx.url, content=body, headers=headers) for _ in range(3)]
    assert rx.stop() == 0
    assert [(a.status_code, a.json()["status"]) for a in answers] == [(502, "forward_failed")] * 3
    assert [r["verdict"] for r in read_records(record)] == ["forward_failed"] * 3
    assert "stopped: 0 accepted, 3 forward_failed, 0 rejected" in "".join(rx.err)


def test_with_the_outbox_a_callback_is_accepted_once_and_its_resends_are_replays(
    knox: Signer, cert_file: Path, tmp_path: Path
) -> None:
    """The same regression in the default (outbox) mode: the app being down does not
    concern Knox. The callback is accepted and queued once; Knox's resends are replays;
    the delivery attempts are counted apart, ending in a dead letter."""
    record = tmp_path / "r.ndjson"
    rx = Listener(
        "--cert", str(cert_file), "--nonce-db", ":memory:", "--record", str(record),
        "--forward-to", _dead_url(), "--outbox", str(tmp_path / "outbox.sqlite3"),
        "--retry-attempts", "2", "--retry-base", "0.05",
    )  # fmt: skip
    body, headers = knox.callback(nonce="retried")
    with httpx2.Client(timeout=10) as http:
        answers = [http.post(rx.url, content=body, headers=headers) for _ in range(3)]
    deliveries = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(
        d["outcome"] == "dead_lettered" for d in deliveries
    ):
        try:
            line = json.loads(rx.lines.get(timeout=0.2))
        except queue.Empty:
            continue
        if line["kind"] == "delivery":
            deliveries.append(line)
    assert rx.stop() == 0
    assert [(a.status_code, a.json()["status"]) for a in answers] == [
        (200, "accepted"),
        (409, "rejected"),
        (409, "rejected"),
    ]
    assert [d["outcome"] for d in deliveries] == ["retry", "dead_lettered"]
    assert deliveries[-1]["reason"] == "retries_exhausted"
    assert "ConnectError" in deliveries[-1]["error"]
    lines = {r["verdict"]: r for r in read_records(record)}  # the dead letter may come first
    assert sorted(r["verdict"] for r in read_records(record)) == [
        "accepted", "dead_lettered", "rejected", "rejected",
    ]  # fmt: skip
    assert lines["accepted"]["forward"]["mode"] == "outbox"
    assert lines["accepted"]["forward"]["duplicate"] is False
    assert (lines["dead_lettered"]["nonce"], lines["dead_lettered"]["attempts"]) == ("retried", 2)
    assert "stopped: 1 accepted, 2 rejected, 1 dead_lettered" in "".join(rx.err)


def test_an_attached_signature_of_a_large_body_is_answered_not_reset(
    knox: Signer, cert_file: Path
) -> None:
    """Audit 13.4: signed bodies of 96 KiB and more got a TCP reset. The attached JWS
    repeats the body base64url-encoded in the header, past h11's 16 KiB header buffer."""
    rx = Listener("--cert", str(cert_file), "--nonce-db", ":memory:")
    with httpx2.Client(timeout=30) as http:
        statuses = []
        for size in (96 * 1024, 300 * 1024, 2 * 1024 * 1024):
            body, headers = knox.callback(payload={"blob": "z" * size}, detached=False)
            statuses.append(http.post(rx.url, content=body, headers=headers).status_code)
    assert rx.stop() == 0
    assert statuses == [200, 200, 200]


def test_max_body_refuses_while_streaming_with_413(knox: Signer, cert_file: Path) -> None:
    rx = Listener("--cert", str(cert_file), "--nonce-db", ":memory:", "--max-body", "1000")
    small, small_headers = knox.callback()
    big, big_headers = knox.callback(payload={"blob": "z" * 5000})
    with httpx2.Client(timeout=10) as http:
        ok = http.post(rx.url, content=small, headers=small_headers)
        refused = http.post(rx.url, content=big, headers=big_headers)
    assert rx.stop() == 0
    assert ok.status_code == 200
    assert (refused.status_code, refused.json()["reason"]) == (413, "body_too_large")


def test_duplicate_knox_headers_are_refused_and_recorded_with_both_values(
    knox: Signer, cert_file: Path, tmp_path: Path
) -> None:
    record = tmp_path / "r.ndjson"
    rx = Listener("--cert", str(cert_file), "--nonce-db", ":memory:", "--record", str(record))
    body, headers = knox.callback(nonce="dup-1")
    other = knox.callback(nonce="dup-2")[1]
    with httpx2.Client(timeout=10) as http:
        two_nonces = http.post(
            rx.url,
            content=body,
            headers=[*headers.items(), ("x-knox-nonce", "dup-2")],
        )
        two_sigs = http.post(
            rx.url,
            content=body,
            headers=[*headers.items(), ("X-WSM-SIGNATURE", other["X-WSM-SIGNATURE"])],
        )
        long_nonce = http.post(rx.url, content=body, headers={**headers, "x-knox-nonce": "n" * 129})
        fine = http.post(rx.url, content=body, headers=headers)
    assert rx.stop() == 0
    assert [
        (a.status_code, a.json().get("reason")) for a in (two_nonces, two_sigs, long_nonce)
    ] == [
        (400, "duplicate_header"),
        (400, "duplicate_header"),
        (400, "malformed_nonce"),
    ]
    assert fine.status_code == 200  # the refusals did not burn the nonce
    first = read_records(record)[0]
    assert first["headers"]["x-knox-nonce"] == "dup-1, dup-2"
    assert first["nonce"] is None  # which of the two it was is not guessed


def test_max_callbacks_exits_0_and_timeout_exits_7(knox: Signer, cert_file: Path) -> None:
    rx = Listener("--cert", str(cert_file), "--nonce-db", ":memory:", "--max-callbacks", "2")
    with httpx2.Client(timeout=10) as http:
        for i in range(2):
            body, headers = knox.callback(nonce=f"ci-{i}", payload={"i": i})
            assert http.post(rx.url, content=body, headers=headers).status_code == 200
    assert rx.proc.wait(timeout=30) == 0
    waited = Listener(
        "--cert", str(cert_file), "--nonce-db", ":memory:", "--max-callbacks", "1",
        "--timeout", "1",
    )  # fmt: skip
    assert waited.proc.wait(timeout=30) == 7
    time.sleep(0.1)
    err = "".join(waited.err)
    assert "--timeout 1: 0 of 1 callbacks accepted in time" in err
    assert "Traceback" not in err


def test_probes_healthz_and_readyz(cert_file: Path) -> None:
    rx = Listener("--cert", str(cert_file), "--nonce-db", ":memory:", "--path", "/knox")
    base = rx.url.removesuffix("/knox")
    with httpx2.Client(timeout=10) as http:
        health = http.get(base + "/healthz")
        ready = http.get(base + "/readyz")
    assert rx.stop() == 0
    assert (health.status_code, health.json()["status"]) == (200, "ready")
    assert (ready.status_code, ready.json()["status"]) == (200, "ready")


def test_a_client_that_leaves_mid_body_is_one_quiet_line_in_json_logs(
    cert_file: Path,
) -> None:
    rx = Listener("--cert", str(cert_file), "--nonce-db", ":memory:", "--log-format", "json")
    host, port = rx.url.split("//")[1].rstrip("/").split(":")
    for _ in range(3):
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"a":')
            time.sleep(0.2)
    time.sleep(0.5)
    assert rx.stop() == 0
    lines = [json.loads(line) for line in rx.err if line.startswith("{")]
    left = [line for line in lines if "went away" in line["message"]]
    assert len(left) == 3
    assert left[0]["level"] == "warning"
    assert "Traceback" not in "".join(rx.err)


def test_sigterm_drains_a_callback_in_flight(knox: Signer, cert_file: Path, tmp_path: Path) -> None:
    """SIGTERM while the app behind --forward-to is slow: that callback still gets its
    200, then listen exits 0."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from knoxhook.serving import serve_in_thread

    async def slow(request: Request) -> JSONResponse:
        await request.body()
        import asyncio

        await asyncio.sleep(1.5)
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/hook", slow, methods=["POST"])])
    with serve_in_thread(app) as server:
        rx = Listener(
            "--cert", str(cert_file), "--nonce-db", ":memory:",
            "--forward-to", server.base_url + "/hook",
        )  # fmt: skip
        body, headers = knox.callback(nonce="drained")
        answer: list[int] = []
        sender = threading.Thread(
            target=lambda: answer.append(
                httpx2.post(rx.url, content=body, headers=headers, timeout=30).status_code
            )
        )
        sender.start()
        time.sleep(0.5)  # the callback is in flight, waiting for the app
        assert rx.stop(signal.SIGTERM) == 0
        sender.join(timeout=30)
    assert answer == [200]
    assert "stopped: 1 accepted, 0 rejected" in "".join(rx.err)


def _server_tls(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files)."""
    import ipaddress
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def test_tls_cert_and_key_serve_https(knox: Signer, cert_file: Path, tmp_path: Path) -> None:
    import ssl

    server_cert, server_key = _server_tls(tmp_path)
    rx = Listener(
        "--cert", str(cert_file), "--nonce-db", ":memory:",
        "--tls-cert", str(server_cert), "--tls-key", str(server_key),
    )  # fmt: skip
    assert rx.url.startswith("https://127.0.0.1:")
    trust = ssl.create_default_context(cafile=str(server_cert))
    body, headers = knox.callback(nonce="over-tls")
    with httpx2.Client(timeout=10, verify=trust) as http:
        answer = http.post(rx.url, content=body, headers=headers)
    with pytest.raises(httpx2.HTTPError):  # plain HTTP to the TLS port gets no answer
        httpx2.post(rx.url.replace("https://", "http://"), content=body, timeout=5)
    assert rx.stop() == 0
    assert (answer.status_code, answer.json()["status"]) == (200, "accepted")


def test_tls_options_go_together_and_must_be_usable(cert_file: Path, tmp_path: Path) -> None:
    server_cert, _ = _server_tls(tmp_path)
    base = [sys.executable, "-m", "knoxhook", "listen", "--port", "0", "--cert", str(cert_file)]
    alone = subprocess.run(
        [*base, "--tls-cert", str(server_cert)], capture_output=True, text=True, timeout=60
    )
    wrong = subprocess.run(
        [*base, "--tls-cert", str(server_cert), "--tls-key", str(cert_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert alone.returncode == 2
    assert "Error: --tls-cert and --tls-key go together" in alone.stderr
    assert wrong.returncode == 2
    assert f"--tls-key {cert_file}: cannot use them" in wrong.stderr
    assert "Traceback" not in alone.stderr + wrong.stderr


def test_human_lines_show_the_outbox_and_each_delivery(
    knox: Signer, cert_file: Path, tmp_path: Path
) -> None:
    from tests.receiver.handoff_app import App

    with App() as app:
        rx = Listener(
            "--cert", str(cert_file), "--nonce-db", ":memory:", "--forward-to", app.url,
            "--outbox", str(tmp_path / "o.sqlite3"), json_lines=False,
        )  # fmt: skip
        body, headers = knox.callback(nonce="human-1")
        assert httpx2.post(rx.url, content=body, headers=headers, timeout=10).status_code == 200
        assert app.wait_for({"human-1"}, timeout=10) == set()
        lines: list[str] = []
        deadline = time.monotonic() + 10
        while len(lines) < 2 and time.monotonic() < deadline:
            try:
                lines.append(rx.lines.get(timeout=0.2))
            except queue.Empty:
                continue
        assert rx.stop() == 0
    assert "accepted KDMS_DEVICE_UPLOAD" in lines[0]
    assert lines[0].rstrip().endswith("-> outbox #1")
    assert lines[1].split(" ", 1)[1].rstrip() == (
        "delivered #1 nonce=human-1 -> app 200 (attempt 1)"
    )
    assert "stopped: 1 accepted, 0 rejected, 1 delivered" in "".join(rx.err)


def test_with_json_logs_every_stderr_line_is_a_json_object(cert_file: Path) -> None:
    """``--log-format json`` is for log pipelines: the listening and stopped lines, the
    receiver's warnings and a usage error are all JSON objects of one shape."""
    rx = Listener("--cert", str(cert_file), "--nonce-db", ":memory:", "--log-format", "json")
    host, port = rx.url.split("//")[1].rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"a":')
        time.sleep(0.2)  # then it goes away: a warning
    time.sleep(0.3)
    assert rx.stop() == 0
    lines = [json.loads(line) for line in rx.err]  # every line parses
    assert {tuple(sorted(x)) for x in lines} == {("level", "logger", "message", "time")}
    assert [x["level"] for x in lines if x["message"].startswith("listening on ")] == ["info"]
    assert any(x["level"] == "warning" and "went away" in x["message"] for x in lines)
    assert lines[-1]["message"].startswith("stopped: 0 accepted")
    assert all(x["time"].endswith("Z") for x in lines)


def test_with_json_logs_a_usage_error_is_one_json_object(cert_file: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = str(held.getsockname()[1])
        cmd = [sys.executable, "-m", "knoxhook", "listen", "--port", port]
        done = subprocess.run(
            [*cmd, "--cert", str(cert_file), "--nonce-db", ":memory:", "--log-format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    error = json.loads(line)
    assert (error["level"], error["code"]) == ("error", "usage_error")
    assert error["message"] == f"cannot listen on 127.0.0.1:{port}: Address already in use"
    assert error["hint"] == "pick another --port (0 picks a free one)"

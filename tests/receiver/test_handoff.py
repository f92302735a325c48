"""The outbox hand-off (issue 13.2 "Must show") through real `knoxhook listen` processes,
a real redis-server and a real app on 127.0.0.1: replicas with replays and forgeries,
`kill -9` mid-load, the app down for a while and for longer than the retry budget,
`knoxhook callbacks retry`, SIGTERM's bounded drain."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2

from knoxhook.receiver.handoff.outbox import Outbox
from knoxhook.receiver.recorder import read_records
from tests.cli.test_listen import Listener, _plan, _send_to_replicas
from tests.receiver.handoff_app import App
from tests.receiver.signing import Signer
from tests.receiver.test_redis_store import RedisServer, redis_server  # noqa: F401

FAST = ["--retry-base", "0.05", "--retry-cap", "0.3"]  # short backoff in tests


def _accepted(*records: Path) -> list[str]:
    lines = [r for path in records for r in read_records(path)]
    return [r["nonce"] for r in lines if r["verdict"] == "accepted"]


def _deliveries(rx: Listener, until: str, timeout: float) -> list[dict[str, object]]:
    """The `delivery` lines listen prints, until ``until`` outcomes stop coming (bounded)."""
    lines: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = json.loads(rx.lines.get(timeout=0.2))
        except queue.Empty:
            continue
        if line["kind"] == "delivery":
            lines.append(line)
            if line["outcome"] == until:
                break
    return lines


def test_two_replicas_on_one_redis_hand_each_accepted_callback_to_the_app_once(
    redis_server: RedisServer,  # noqa: F811
    cert_file: Path,
    knox: Signer,
    tmp_path: Path,
) -> None:
    """2,000 callbacks, 10% replays sent to the other replica, 5% forgeries."""
    with App() as app:
        common = ["--cert", str(cert_file), "--nonce-store", redis_server.url(5)]
        common += ["--forward-to", app.url, *FAST]
        replicas = tuple(
            Listener(
                *common,
                *("--outbox", str(tmp_path / f"{n}.sqlite3")),
                *("--record", str(tmp_path / f"{n}.ndjson")),
            )
            for n in (1, 2)
        )
        plan = _plan(knox, 2000, seed=21)
        started = time.monotonic()
        results = _send_to_replicas(replicas, plan, join_timeout=120)  # type: ignore[arg-type]
        answered = time.monotonic() - started
        accepted = set(_accepted(tmp_path / "1.ndjson", tmp_path / "2.ndjson"))
        missing = app.wait_for(accepted, timeout=30)
        handed = time.monotonic() - started
        codes = [rx.stop() for rx in replicas]
    assert codes == [0, 0]
    assert len(results) == 2000
    assert sum(1 for r in results if r[0] == "replay") >= 150
    assert [r for r in results if r[0] == "replay" and r[3] != 409] == []  # 0 replays accepted
    assert [r for r in results if r[0] == "valid" and r[3] != 200] == []  # 0 valid refused
    assert [r for r in results if r[2] != r[3]] == []
    valid = {r[1] for r in results if r[0] == "valid"}
    assert accepted == valid
    assert missing == set()
    assert set(app.taken) == valid  # each accepted callback handed off...
    assert [k for k, n in app.posts.items() if n != 1] == []  # ...exactly once
    assert "Traceback" not in "".join(replicas[0].err + replicas[1].err)
    print(f"2000 callbacks answered in {answered:.1f} s, all handed off in {handed:.1f} s")


def test_kill_9_mid_load_then_restart_on_the_same_outbox_loses_nothing(
    cert_file: Path, knox: Signer, tmp_path: Path
) -> None:
    """The app fails while the first replica takes callbacks, so they pile up in its
    outbox; it is killed with SIGKILL mid-load; restarted on the same outbox and
    nonce store it delivers every callback Knox got a 200 for, and accepts no replay."""
    callbacks = [knox.callback(nonce=f"k-{i}", payload={"i": i}) for i in range(300)]
    state = ["--nonce-db", str(tmp_path / "n.sqlite3"), "--outbox", str(tmp_path / "o.sqlite3")]
    with App() as app:
        app.answer = 503
        rx = Listener(
            "--cert", str(cert_file), "--forward-to", app.url, *state, *FAST,
            "--retry-attempts", "1000",
        )  # fmt: skip
        first: dict[str, int] = {}
        enough = threading.Event()

        def stream() -> None:
            with httpx2.Client(timeout=10) as http:
                for body, headers in callbacks:
                    try:
                        answer = http.post(rx.url, content=body, headers=headers)
                    except httpx2.HTTPError:
                        return  # killed under us: no answer, so Knox would resend
                    first[headers["x-knox-nonce"]] = answer.status_code
                    if len(first) == 120:
                        enough.set()

        sender = threading.Thread(target=stream)
        sender.start()
        assert enough.wait(timeout=60)
        os.kill(rx.proc.pid, signal.SIGKILL)
        rx.proc.wait(timeout=30)
        sender.join(timeout=60)
        ok_before = {n for n, s in first.items() if s == 200}
        assert len(ok_before) >= 120
        assert app.taken == {}  # nothing was delivered before the kill

        app.answer = 200
        again = Listener("--cert", str(cert_file), "--forward-to", app.url, *state, *FAST)
        assert app.wait_for(ok_before, timeout=30) == set()  # nothing verified is lost
        with httpx2.Client(timeout=10) as http:
            second = {
                h["x-knox-nonce"]: http.post(again.url, content=b, headers=h).status_code
                for b, h in callbacks
            }
        ok_after = {n for n, s in second.items() if s == 200}
        assert app.wait_for(ok_after, timeout=30) == set()
        assert again.stop() == 0
    assert [n for n in ok_before if second[n] != 409] == []  # no replay accepted
    assert ok_before | ok_after == {h["x-knox-nonce"] for _, h in callbacks}
    assert set(app.taken) == ok_before | ok_after


def test_the_app_down_for_a_while_gets_its_callbacks_after_retries(
    cert_file: Path, knox: Signer, tmp_path: Path
) -> None:
    app = App()  # not started: connection refused
    rx = Listener(
        "--cert", str(cert_file), "--nonce-db", ":memory:", "--forward-to", app.url,
        "--outbox", str(tmp_path / "o.sqlite3"), "--retry-attempts", "50", *FAST,
    )  # fmt: skip
    sent = [knox.callback(nonce=f"w-{i}", payload={"i": i}) for i in range(5)]
    with httpx2.Client(timeout=10) as http:
        assert [http.post(rx.url, content=b, headers=h).status_code for b, h in sent] == [200] * 5
        time.sleep(1.0)  # several attempts fail meanwhile
        metrics = http.get(rx.url.rsplit("/", 1)[0] + "/metrics").text
        with app:
            assert app.wait_for({f"w-{i}" for i in range(5)}, timeout=20) == set()
            after = http.get(rx.url.rsplit("/", 1)[0] + "/metrics").text
        assert rx.stop() == 0
    assert "knoxhook_outbox_pending 5.0" in metrics
    assert "knoxhook_outbox_pending 0.0" in after
    assert "knoxhook_outbox_dead_letters 0.0" in after
    assert 'knoxhook_deliveries_total{outcome="delivered"} 5.0' in after
    retries = [line for line in after.splitlines() if 'outcome="retry"' in line]
    assert retries
    assert float(retries[0].split()[-1]) >= 5
    body, headers = sent[0]
    got_body, got_headers = app.taken["w-0"]
    assert got_body == body  # the original bytes...
    assert got_headers["x-wsm-signature"] == headers["X-WSM-SIGNATURE"]  # ...and headers
    assert got_headers["x-knox-nonce"] == "w-0"
    assert got_headers["idempotency-key"] == "w-0"
    assert "stopped: 5 accepted, 0 rejected, 5 delivered" in "".join(rx.err)


def test_past_the_retry_budget_dead_letters_then_callbacks_retry_delivers_them(
    cert_file: Path, knox: Signer, tmp_path: Path
) -> None:
    outbox = tmp_path / "o.sqlite3"
    with App() as app:
        app.answer, app.retry_after = 503, "0"
        rx = Listener(
            "--cert", str(cert_file), "--nonce-db", ":memory:", "--forward-to", app.url,
            "--outbox", str(outbox), "--retry-attempts", "3", *FAST,
        )  # fmt: skip
        with httpx2.Client(timeout=10) as http:
            for i in range(3):
                body, headers = knox.callback(nonce=f"d-{i}", payload={"i": i})
                assert http.post(rx.url, content=body, headers=headers).status_code == 200
        dead: list[dict[str, object]] = []
        deadline = time.monotonic() + 20
        while len(dead) < 3 and time.monotonic() < deadline:
            dead += [d for d in _deliveries(rx, "dead_lettered", 5) if d["outcome"] != "retry"]
        assert len(dead) == 3
        assert {d["reason"] for d in dead} == {"retries_exhausted"}
        assert {d["attempts"] for d in dead} == {3}
        assert app.posts == {"d-0": 3, "d-1": 3, "d-2": 3}

        cmd = [sys.executable, "-m", "knoxhook", "callbacks"]
        listed = subprocess.run(
            [*cmd, "list", "--dead", "--json", "--outbox", str(outbox)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        rows = json.loads(listed.stdout)
        assert sorted(r["nonce"] for r in rows) == ["d-0", "d-1", "d-2"]
        assert {(r["state"], r["last_status"], r["dead_reason"]) for r in rows} == {
            ("dead", 503, "retries_exhausted")
        }
        app.answer = 200
        retried = subprocess.run(
            [*cmd, "retry", "--all", "--outbox", str(outbox)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert retried.returncode == 0, retried.stderr
        assert "requeued 3: listen --forward-to on this outbox delivers them" in retried.stderr
        assert app.wait_for({"d-0", "d-1", "d-2"}, timeout=20) == set()  # the running listen
        assert rx.stop() == 0
    box = Outbox(outbox)
    assert box.rows() == []  # nothing pending, nothing dead
    box.close()


def test_an_app_refusing_with_4xx_is_a_dead_letter_at_once(
    cert_file: Path, knox: Signer, tmp_path: Path
) -> None:
    record = tmp_path / "r.ndjson"
    with App() as app:
        app.answer = 422
        rx = Listener(
            "--cert", str(cert_file), "--nonce-db", ":memory:", "--forward-to", app.url,
            "--outbox", str(tmp_path / "o.sqlite3"), "--record", str(record), *FAST,
        )  # fmt: skip
        body, headers = knox.callback(nonce="refused")
        assert httpx2.post(rx.url, content=body, headers=headers, timeout=10).status_code == 200
        (event,) = _deliveries(rx, "dead_lettered", 10)
        assert rx.stop() == 0
    assert (event["outcome"], event["reason"], event["status"], event["attempts"]) == (
        "dead_lettered", "app_refused", 422, 1,
    )  # fmt: skip
    assert app.posts == {"refused": 1}
    assert [r["verdict"] for r in read_records(record)] == ["accepted", "dead_lettered"]


def test_sigterm_drains_deliveries_in_flight_and_keeps_the_rest_for_the_next_start(
    cert_file: Path, knox: Signer, tmp_path: Path
) -> None:
    outbox = tmp_path / "o.sqlite3"
    with App() as app:
        app.delay = 1.0  # a slow app: each delivery takes a second
        rx = Listener(
            "--cert", str(cert_file), "--nonce-db", ":memory:", "--forward-to", app.url,
            "--outbox", str(outbox), "--drain-seconds", "5", *FAST,
        )  # fmt: skip
        with httpx2.Client(timeout=10) as http:
            for i in range(40):
                body, headers = knox.callback(nonce=f"s-{i}", payload={"i": i})
                assert http.post(rx.url, content=body, headers=headers).status_code == 200
        time.sleep(0.3)
        in_flight = set(app.arrived) - set(app.taken)
        assert in_flight  # posted, not yet answered
        started = time.monotonic()
        assert rx.stop() == 0
        assert time.monotonic() - started < 8  # bounded
        taken_at_stop = set(app.taken)
        assert in_flight <= taken_at_stop  # the deliveries in flight were finished
        box = Outbox(outbox)
        left = {r.nonce for r in box.rows()}
        box.close()
        assert left == {f"s-{i}" for i in range(40)} - taken_at_stop
        assert left  # the rest stayed in the outbox...
        app.delay = 0.0
        again = Listener(
            "--cert", str(cert_file), "--nonce-db", ":memory:", "--forward-to", app.url,
            "--outbox", str(outbox), *FAST,
        )  # fmt: skip
        assert app.wait_for({f"s-{i}" for i in range(40)}, timeout=20) == set()  # ...for now
        assert again.stop() == 0
    assert [k for k, n in app.posts.items() if n != 1] == []


def test_redis_stopped_mid_load_503s_never_a_200_that_is_not_handed_off_and_recovers(
    cert_file: Path, knox: Signer, tmp_path: Path
) -> None:
    """Replay store on Redis, outbox hand-off: while Redis is down every callback gets
    503 (so nothing is queued unchecked); every 200 reaches the app; Knox's resends are
    accepted once Redis is back."""
    server = RedisServer(tmp_path)
    server.start()
    record = tmp_path / "r.ndjson"
    callbacks = [knox.callback(nonce=f"rd-{i}", payload={"i": i}) for i in range(120)]
    answers: dict[str, int] = {}
    with App() as app:
        rx = Listener(
            "--cert", str(cert_file), "--nonce-store", server.url(0), "--forward-to", app.url,
            "--outbox", str(tmp_path / "o.sqlite3"), "--record", str(record), *FAST,
        )  # fmt: skip
        try:
            with httpx2.Client(timeout=30) as http:
                for i, (body, headers) in enumerate(callbacks):
                    if i == 40:
                        server.stop(signal.SIGKILL)
                    if i == 80:
                        server.start()  # empty: no persistence in this test
                    status = http.post(rx.url, content=body, headers=headers).status_code
                    answers[headers["x-knox-nonce"]] = status
                down = [n for n, s in answers.items() if s != 200]
                resent = [
                    http.post(rx.url, content=b, headers=h).status_code
                    for b, h in callbacks
                    if h["x-knox-nonce"] in down
                ]
            ok = {n for n, s in answers.items() if s == 200} | set(down)
            missing = app.wait_for(ok, timeout=30)
        finally:
            code = rx.stop()
            server.stop()
    statuses = list(answers.values())
    assert statuses[:40] == [200] * 40
    assert set(statuses[40:80]) == {503}
    assert statuses[80:] == [200] * 40
    assert resent == [200] * 40  # the 503s released their claims
    assert missing == set()  # every 200 was handed to the app
    assert set(app.taken) == {h["x-knox-nonce"] for _, h in callbacks}
    assert [k for k, n in app.posts.items() if n != 1] == []
    refused = [r for r in read_records(record) if r["verdict"] == "unavailable"]
    assert {r["reason"] for r in refused} == {"store_unavailable"}
    assert code == 0
    assert "Traceback" not in "".join(rx.err)

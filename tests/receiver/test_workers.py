"""``listen --workers N`` (issue 13.3): N real processes on one port, one SQLite store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import httpx2
import pytest

from tests.receiver.signing import Signer


def _drain(stream: IO[str], into: list[str]) -> threading.Thread:
    """Read a pipe as it fills (the workers block on a full one)."""
    thread = threading.Thread(target=lambda: into.extend(stream), daemon=True)
    thread.start()
    return thread


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "knoxhook", "listen", "--port", "0", "--json", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the parent's one "listening" line (bounded by wait)
    if not first:
        proc.kill()
        pytest.fail(f"listen did not start: {proc.communicate(timeout=10)[1]}")
    event = json.loads(first)
    assert (event["kind"], event["workers"]) == ("listening", 2)
    return proc, str(event["url"])


def _children(pid: int, expected: int) -> list[int]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        kids = [int(p) for p in text.split()]
        if len(kids) == expected:
            return kids
        time.sleep(0.05)
    pytest.fail(f"listen {pid} has children {text!r}, expected {expected}")


def _gone(pid: int) -> bool:
    """Is ``pid`` gone (no process, or a zombie waiting for its parent)?"""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"
    except FileNotFoundError:
        return True


def _wait_gone(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(_gone(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def test_two_workers_share_the_port_and_the_store_with_no_double_accept(
    knox: Signer, cert_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "nonces.sqlite3"
    proc, url = _start("--workers", "2", "--cert", str(cert_file), "--nonce-db", str(db))
    workers = _children(proc.pid, 2)
    fresh = [knox.callback(nonce=f"w-{i}", payload={"i": i}) for i in range(300)]
    sends = fresh + fresh[::10]  # 300 callbacks, 30 of them sent twice (replays)

    local = threading.local()

    def post(callback: tuple[bytes, dict[str, str]]) -> tuple[str, int]:
        body, headers = callback
        if not hasattr(local, "http"):  # one client per thread (8 at a time)
            local.http = httpx2.Client(timeout=60)
        # a new connection per callback, as Knox's deliveries come: with 8 keep-alive
        # connections one worker could accept all 8 and serve every callback alone
        closing = {**headers, "Connection": "close"}
        answer = local.http.post(url, content=body, headers=closing)
        return headers["x-knox-nonce"], answer.status_code

    out_lines: list[str] = []
    err_lines: list[str] = []
    assert proc.stdout is not None
    assert proc.stderr is not None
    readers = [_drain(proc.stdout, out_lines), _drain(proc.stderr, err_lines)]
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(post, sends))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        for reader in readers:
            reader.join(timeout=10)
    out, err = "".join(out_lines), "".join(err_lines)
    accepted = Counter(nonce for nonce, status in answers if status == 200)
    assert len(accepted) == 300  # every fresh callback was accepted ...
    assert max(accepted.values()) == 1  # ... exactly once
    refused = Counter(status for _, status in answers if status != 200)
    assert sum(refused.values()) == 30
    assert set(refused) <= {409, 503}  # a replay; or in progress, when both arrived at once
    assert proc.returncode == 0
    assert _wait_gone(workers, 5)  # SIGTERM to the parent stopped every worker
    assert err.count("stopped: ") == 2, err  # each worker drained and said so
    lines = [json.loads(line) for line in out.splitlines()]
    assert sum(1 for line in lines if line.get("verdict") == "accepted") == 300
    # both workers kept callbacks: the claim owners are "pid:random"
    with sqlite3.connect(db) as conn:
        owners = {int(o.split(":")[0]) for (o,) in conn.execute("SELECT owner FROM claims")}
    assert owners == set(workers)


def test_workers_stop_when_the_parent_is_killed(cert_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "nonces.sqlite3"
    proc, url = _start("--workers", "2", "--cert", str(cert_file), "--nonce-db", str(db))
    workers = _children(proc.pid, 2)
    os.kill(proc.pid, signal.SIGKILL)  # no chance to stop them
    proc.communicate(timeout=30)
    assert _wait_gone(workers, 10)  # no orphan keeps the port
    with pytest.raises(httpx2.TransportError):
        httpx2.get(url, timeout=2)


def test_max_callbacks_is_refused_with_workers(cert_file: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "knoxhook",
            "listen",
            "--workers",
            "2",
            "--max-callbacks",
            "1",
            "--cert",
            str(cert_file),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--max-callbacks counts in one process: it does not go with --workers" in done.stderr
    assert "Traceback" not in done.stderr

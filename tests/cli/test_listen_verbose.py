"""`knoxhook -v listen`: the receiver's INFO lines (a certificate download retried, a
certificate downloaded) reach stderr while it serves, as text or, with
`--log-format json`, as JSON objects; without -v they stay quiet. Through a real
`knoxhook listen` process against the emulator, stopped by its PID."""

from __future__ import annotations

import json
import os
import signal
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

RETRY_LINE = "retrying GET " + wire.certificate_path()


class Listen:
    """``python -m knoxhook [GLOBALS] listen --port 0 [ARGS] --json``; ``url`` once ready."""

    def __init__(self, globals_: list[str], args: list[str], env: dict[str, str]) -> None:
        cmd = [sys.executable, "-m", "knoxhook", *globals_, "listen", "--port", "0", *args]
        self.proc = subprocess.Popen(
            [*cmd, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CI": "true", **env},
        )
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, into in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, into), daemon=True).start()
        self.url = self._wait_ready()

    @staticmethod
    def _pump(stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            into.append(line)

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            for line in list(self.out):
                first = json.loads(line)
                if first["kind"] == "listening":
                    return str(first["url"])
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"listen did not start: {''.join(self.err)}")

    def wait_for_accepted(self, seconds: float = 15.0) -> bool:
        """Wait (bounded) until stdout has a callback line with verdict accepted."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            lines = [json.loads(line) for line in list(self.out)]
            if any(x.get("kind") == "callback" and x["verdict"] == "accepted" for x in lines):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        time.sleep(0.1)  # let the pump threads drain
        return code


def _env(emu: EmulatorHandle) -> dict[str, str]:
    return {
        "KNOXHOOK_BASE_URL": emu.base_url,
        "KNOXHOOK_CLIENT_ID": emu.client_id,
        "KNOXHOOK_CLIENT_SECRET": emu.client_secret,
    }


def _rotate_with_a_failed_download(emu: EmulatorHandle, rx: Listen) -> None:
    """Knox rotates its key; the receiver's first download attempt answers 503 (it is
    retried), then a callback signed with the new key arrives."""
    created = httpx2.post(
        emu.base_url + wire.subscriptions_path(),
        json={wire.F_URL: rx.url, wire.F_EVENTS: ["KDMS_DEVICE_UPLOAD"]},
        headers={"Authorization": f"Bearer {emu.token()}"},
        timeout=10,
    )
    assert created.status_code in (200, 201), created.text
    emu.set_certificate("rotate-new-key")
    emu.fault(path=wire.certificate_path(), status=503, count=1)
    emu.trigger("KDMS_DEVICE_UPLOAD")
    assert rx.wait_for_accepted(), (rx.out, rx.err)


def _listen_through_a_rotation(
    emulator: EmulatorHandle, options: list[str], listen_args: list[str]
) -> Listen:
    """A listen process (``knoxhook OPTIONS listen ARGS``) through a key rotation whose
    first certificate download fails; stopped (exit 0) when this returns."""
    rx = Listen(options, listen_args, _env(emulator))
    try:
        _rotate_with_a_failed_download(emulator, rx)
    finally:
        code = rx.stop()
    assert code == 0, rx.err
    return rx


def test_verbose_listen_shows_the_retried_certificate_download_on_stderr(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    rx = _listen_through_a_rotation(emulator, ["-v"], ["--nonce-db", str(tmp_path / "n.db")])
    err = "".join(rx.err)
    retry = [line for line in rx.err if RETRY_LINE in line]
    assert len(retry) == 1, err
    assert retry[0].startswith("info: retrying GET "), retry
    assert "attempt 2 of " in retry[0], retry
    assert "certificate refreshed after a failed signature" in err
    assert "warning: the Knox certificate's public key changed" in err
    assert RETRY_LINE not in "".join(rx.out)  # stdout stays the callbacks
    assert emulator.client_secret not in err


def test_verbose_listen_with_json_logs_writes_the_retry_as_a_json_object(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    rx = _listen_through_a_rotation(
        emulator, ["--verbose"], ["--nonce-db", str(tmp_path / "n.db"), "--log-format", "json"]
    )
    logged = [json.loads(line) for line in rx.err]  # every stderr line is a JSON object
    retries = [r for r in logged if RETRY_LINE in r["message"]]
    assert len(retries) == 1, rx.err
    assert retries[0]["level"] == "info"
    assert retries[0]["logger"] == "knoxhook.retry"
    changed = [r for r in logged if "public key changed" in r["message"]]
    assert [r["level"] for r in changed] == ["warning"], rx.err


def test_listen_without_verbose_keeps_the_info_lines_quiet(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    rx = _listen_through_a_rotation(emulator, [], ["--nonce-db", str(tmp_path / "n.db")])
    err = "".join(rx.err)
    assert "retrying" not in err
    assert not [line for line in rx.err if line.startswith("info:")], err
    # warnings are shown as before
    assert "warning: the Knox certificate's public key changed" in err


@pytest.mark.parametrize("flag", ["-v", "--debug"])
def test_verbose_listen_is_a_usage_error_as_before_for_a_bad_log_format(
    flag: str, tmp_path: Path
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "knoxhook", flag, "listen", "--log-format", "xml"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CI": "true"},
        check=False,
    )
    assert proc.returncode == 2
    assert "--log-format must be text or json: 'xml'" in proc.stderr

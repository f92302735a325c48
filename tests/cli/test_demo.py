"""``knoxhook demo``: the whole workflow on the embedded emulator, as the README promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import run
from tests.fakes import MemoryKeyring

STEPS = [
    "emulator",
    "certificate",
    "token",
    "listen",
    "subscribe",
    "trigger",
    "callback",
    "replay",
    "list",
    "delete",
]


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    code, out, err = run(capsys, "demo", "--json", *args)
    assert code == 0, err
    result: dict[str, object] = json.loads(out)
    return result


@pytest.mark.parametrize(
    ("signing", "form"),
    [
        ("samsung", "raw-body/padded/attached"),
        ("samsung-reserialized", "samsung-reserialized/padded/attached"),
        ("padded", "raw-body/padded/attached"),
        ("unpadded", "raw-body/unpadded/attached"),
        ("detached", "raw-body/unpadded/detached"),
    ],
)
def test_demo_walks_every_step_and_verifies_each_signing_form(
    capsys: pytest.CaptureFixture[str], signing: str, form: str
) -> None:
    transcript = run_json(capsys, "--signing", signing)
    steps = {s["step"]: s for s in transcript["steps"]}  # type: ignore[union-attr,index]
    assert transcript["ok"] is True
    assert [s["step"] for s in transcript["steps"]] == STEPS  # type: ignore[union-attr,index]
    assert steps["subscribe"]["events"] == ["KDMS_DEVICE_UPLOAD"]
    assert steps["callback"]["event"] == "KDMS_DEVICE_UPLOAD"
    assert steps["callback"]["subscriptionId"] == steps["subscribe"]["subscriptionId"]
    assert steps["callback"]["form"] == form
    assert steps["callback"]["nonce"] == steps["trigger"]["nonce"]
    assert steps["replay"]["status"] == 409
    assert steps["replay"]["reason"] == "replayed_nonce"
    assert steps["token"]["cache_mode"] == "0o600"
    assert steps["delete"]["remaining"] == 0


def test_demo_leaves_nothing_in_the_users_config_cache_or_keyring(
    capsys: pytest.CaptureFixture[str], isolated_env: Path, memory_keyring: MemoryKeyring
) -> None:
    run_json(capsys)
    assert not (isolated_env / "config").exists()
    assert not (isolated_env / "cache").exists()
    assert memory_keyring.store == {}


def test_demo_ndjson_prints_one_line_per_step(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--output", "ndjson")
    assert code == 0
    lines = out.splitlines()
    assert [json.loads(line)["step"] for line in lines] == STEPS


def test_demo_as_the_readme_runs_it_prints_each_step_and_exits_0() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "knoxhook", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Validation certificate downloaded and stored" in result.stdout
    assert "The same callback replayed: refused" in result.stdout
    assert "reason: replayed_nonce" in result.stdout
    assert "Done." in result.stdout
    assert "Traceback" not in result.stderr
    assert "knoxhook-demo-secret" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "pipeline",
    [
        "knoxhook demo | head -1",
        "knoxhook demo | true",
        "knoxhook demo --json | true",
        "knoxhook demo -o ndjson | head -1",
    ],
)
def test_a_closed_stdout_ends_the_demo_quietly_with_exit_0_under_pipefail(
    pipeline: str, tmp_path: Path
) -> None:
    """Defect 3: it exited 1 with no word. Through a real process, as a script runs it:
    the exit code is 0 (cli/pipes.py), nothing on stderr, and the pipeline ends (bash
    waits for knoxhook: no process is left behind)."""
    import os
    import shlex
    import time

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "knoxhook").write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m knoxhook "$@"\n'
    )
    (bin_dir / "knoxhook").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    start = time.monotonic()
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", pipeline],
        env=env, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, ""), pipeline
    if "head -1" in pipeline:
        assert result.stdout.count("\n") == 1
        assert "Knox cloud emulator started" in result.stdout
    assert time.monotonic() - start < 60


def test_a_closed_stdout_stops_the_emulator_and_receiver_before_the_command_returns(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process, so the proof is not the process exiting: after `knoxhook demo` with a
    pipe whose reader is gone, no server thread and no socket of the demo is left."""
    import contextlib
    import io
    import os
    import threading

    from knoxhook.cli.main import main

    def sockets() -> int:
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(FileNotFoundError):  # the listing's own descriptor
                count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        return count

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to count this process's sockets")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    pipe = io.TextIOWrapper(io.FileIO(write_end, "w"), encoding="utf-8")
    threads_before = set(threading.enumerate())
    sockets_before = sockets()
    monkeypatch.setattr(sys, "stdout", pipe)
    with pytest.raises(SystemExit) as exc:
        main(["demo"])
    monkeypatch.undo()
    assert exc.value.code == 0
    assert capsys.readouterr().err == ""
    assert set(threading.enumerate()) <= threads_before
    assert sockets() == sockets_before
    pipe.close()  # stdout now points at /dev/null (pipes.stop_quietly): closes quietly

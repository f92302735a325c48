"""``knoxhook ui`` as a command: flags, refusals before the screen opens, a real pty run."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from knoxhook.cli.main import main
from knoxhook.emulator.testing import EmulatorHandle
from knoxhook.subscriptions import SubscriptionService

ANSI = re.compile(rb"\x1b\[[0-9;?<>=$]*[A-Za-z~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    code = exc.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


def test_listen_and_follow_together_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, err = run_cli(capsys, "ui", "--listen", "0", "--follow", str(tmp_path / "r.ndjson"))
    assert code == 2
    assert err == "Error: give --listen or --follow, not both\n"


def test_a_listen_port_out_of_range_is_the_usage_error_every_port_flag_gives(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = run_cli(capsys, "ui", "--listen", "70000")
    assert code == 2
    assert err == "Error: --listen 70000: a port is 0..65535\nHint: 0 picks a free port\n"


def test_without_a_terminal_it_refuses_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(capsys, "ui")  # pytest's stdin/stdout are not terminals
    assert code == 2
    assert "Error: knoxhook ui needs an interactive terminal" in err
    assert "knoxhook subscriptions list --json" in err


def test_help_has_the_keys_and_an_example() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "knoxhook", "ui", "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0
    assert "knoxhook ui --listen 8080" in result.stdout
    assert "q quit" in result.stdout
    assert "--follow" in result.stdout


def test_textual_is_not_imported_by_the_other_commands() -> None:
    code = (
        "import sys\n"
        "from knoxhook.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'knoxhook'}),"
        " file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stderr.strip() == "['knoxhook']"


def spawn_in_pty(
    args: list[str], env: dict[str, str], cols: int = 160, rows: int = 45
) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(
        args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    return proc, master


def read_until(
    master: int,
    needles: list[bytes],
    timeout: float,
    until_exit: subprocess.Popen[bytes] | None = None,
) -> bytes:
    """Raw terminal output until every needle showed (or ``until_exit`` exited), or timeout."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if until_exit is not None and until_exit.poll() is not None:
            break
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if needles and all(n in ANSI.sub(b"", seen) for n in needles):
                break
    return seen


def test_real_terminal_shows_subscriptions_and_quits_on_q(
    emulator: EmulatorHandle, service: SubscriptionService
) -> None:
    sub = service.create("https://hooks.example.com/pty", ["KDMS_DEVICE_UPLOAD"])
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "KNOXHOOK_BASE_URL": emulator.base_url,
        "KNOXHOOK_CLIENT_ID": emulator.client_id,
        "KNOXHOOK_CLIENT_SECRET": emulator.client_secret,
    }
    proc, master = spawn_in_pty([sys.executable, "-m", "knoxhook", "ui"], env)
    try:
        screen = ANSI.sub(
            b"", read_until(master, [sub.subscription_id.encode(), b"1 subscription", b"Quit"], 30)
        )
        assert sub.subscription_id.encode() in screen
        assert b"https://hooks.example.com/pty" in screen
        assert b"Quit" in screen  # key help in the footer
        os.write(master, b"q")
        read_until(master, [], 20, until_exit=proc)  # keep draining the screen meanwhile
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        os.close(master)


def test_real_terminal_without_credentials_exits_3_before_drawing() -> None:
    proc, master = spawn_in_pty([sys.executable, "-m", "knoxhook", "ui"], dict(os.environ))
    try:
        raw = read_until(master, [b"Hint:"], 30)
        out = ANSI.sub(b"", raw)
        assert proc.wait(timeout=20) == 3
        assert b"Error: no client id for profile 'default'" in out
        assert b"\x1b[?1049h" not in raw  # never switched to the alternate screen
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        os.close(master)


TRUECOLOR = re.compile(rb"\x1b\[(?:[0-9;]*;)?[34]8;2;(\d+);(\d+);(\d+)")


@pytest.mark.parametrize("how", ["NO_COLOR=1", "--no-color"])
def test_no_color_in_a_real_terminal_draws_only_greys(
    how: str, emulator: EmulatorHandle, service: SubscriptionService
) -> None:
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "KNOXHOOK_BASE_URL": emulator.base_url,
        "KNOXHOOK_CLIENT_ID": emulator.client_id,
        "KNOXHOOK_CLIENT_SECRET": emulator.client_secret,
    }
    if how == "NO_COLOR=1":
        env["NO_COLOR"] = "1"
    flags = ["--no-color"] if how == "--no-color" else []
    proc, master = spawn_in_pty([sys.executable, "-m", "knoxhook", *flags, "ui"], env)
    try:
        raw = read_until(master, [b"0 subscriptions", b"Quit"], 30)
        colours = {m.groups() for m in TRUECOLOR.finditer(raw)}
        assert colours, "expected some (grey) colours"
        assert all(r == g == b for r, g, b in colours), sorted(colours)[:5]
        os.write(master, b"q")
        read_until(master, [], 20, until_exit=proc)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        os.close(master)


def test_listen_on_a_taken_port_exits_2_before_drawing(
    emulator: EmulatorHandle, service: SubscriptionService
) -> None:
    import socket

    env = {
        **os.environ,
        "KNOXHOOK_BASE_URL": emulator.base_url,
        "KNOXHOOK_CLIENT_ID": emulator.client_id,
        "KNOXHOOK_CLIENT_SECRET": emulator.client_secret,
    }
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        args = [sys.executable, "-m", "knoxhook", "ui", "--listen", str(port)]
        proc, master = spawn_in_pty(args, env)
        try:
            raw = read_until(master, [b"Hint:"], 30)
            assert proc.wait(timeout=20) == 2
            out = ANSI.sub(b"", raw)
            assert f"Error: cannot listen on 127.0.0.1:{port}".encode() in out
            assert b"Hint: pick another --listen PORT (0 picks a free one)" in out
            assert b"\x1b[?1049h" not in raw
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            os.close(master)


def test_q_quits_at_once_while_a_request_hangs() -> None:
    """A server that accepts and never answers: `q` must not wait for the 30 s timeout."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # never accepted: connects succeed, answers never come
        env = {
            **os.environ,
            "KNOXHOOK_BASE_URL": f"http://127.0.0.1:{silent.getsockname()[1]}",
            "KNOXHOOK_CLIENT_ID": "someone",
            "KNOXHOOK_CLIENT_SECRET": "secret",
        }
        proc, master = spawn_in_pty([sys.executable, "-m", "knoxhook", "ui"], env)
        try:
            read_until(master, [b"loading subscriptions", b"Quit"], 30)
            started = time.monotonic()
            os.write(master, b"q")
            read_until(master, [], 20, until_exit=proc)
            assert proc.wait(timeout=5) == 0
            assert time.monotonic() - started < 10
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            os.close(master)

"""What a real ``knoxhook`` process prints on a terminal or a non-UTF-8 pipe (issue 9
defects 1, 5 and 7 were seen that way, so they are tested that way): a pseudo-terminal
of a given width, ``PYTHONIOENCODING=ascii``, ``CI`` on a terminal."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from typing import TYPE_CHECKING

import pytest

from knoxhook import events as catalogue
from tests.cli.conftest import Cli

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR", "COLUMNS")}
    return {**env, "NO_COLOR": "1", **extra}


def on_a_terminal(
    args: list[str], env: dict[str, str], *, columns: int = 80, answer: bytes | None = None
) -> tuple[int, str]:
    """``knoxhook ARGS`` with stdin, stdout and stderr on a pseudo-terminal COLUMNS wide:
    (exit code, what the terminal showed, line endings as \\n). ``answer`` a [y/N]."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "knoxhook", *args],
        stdin=secondary, stdout=secondary, stderr=secondary, env=env,
    )  # fmt: skip
    os.close(secondary)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:  # bounded: the program may hang
            ready, _, _ = select.select([primary], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:  # EIO: the program closed its end
                    break
                if not chunk:
                    break
                seen += chunk
                if answer is not None and b"[y/N]" in seen:
                    os.write(primary, answer + b"\n")
                    answer = None
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        os.close(primary)
    return code, ANSI.sub("", seen.decode("utf-8", "replace")).replace("\r\n", "\n")


def _knox_env(knox: EmulatorHandle, **extra: str) -> dict[str, str]:
    return _env(
        KNOXHOOK_BASE_URL=knox.base_url,
        KNOXHOOK_CLIENT_ID=knox.client_id,
        KNOXHOOK_CLIENT_SECRET=knox.client_secret,
        **extra,
    )


# --- defect 1: a stdout that is not UTF-8 ---------------------------------------------


def _ascii_run(knox: EmulatorHandle, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "knoxhook", *args],
        env=_knox_env(knox, PYTHONIOENCODING="ascii"),
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip


def test_non_ascii_data_on_an_ascii_stdout_is_escaped_json_or_replaced_text(
    knox: EmulatorHandle, cli: Cli
) -> None:
    # Was: exit 1 "UnicodeEncodeError" after half the stream.
    urls = ["https://hooks.example.com/caf\u00e9", "https://hooks.example.com/\u2713/k"]
    for url, event in zip(urls, ("KG_DEVICE_LOCKED", "KDMS_DEVICE_UPLOAD"), strict=True):
        assert cli("subscribe", "--url", url, "-e", event, "--json").code == 0
    r = _ascii_run(knox, "subscriptions", "list", "-o", "ndjson")
    assert (r.returncode, r.stderr) == (0, b"")
    lines = r.stdout.splitlines()
    assert b"caf\\u00e9" in lines[0]
    assert b"\\u2713" in lines[1]
    assert [json.loads(line)["url"] for line in lines] == urls
    r = _ascii_run(knox, "subscriptions", "list", "--json")
    assert r.returncode == 0
    assert [s["url"] for s in json.loads(r.stdout)] == urls
    r = _ascii_run(knox, "subscriptions", "list")  # tsv
    assert r.returncode == 0
    assert b"\thttps://hooks.example.com/caf?\t" in r.stdout
    assert b"\thttps://hooks.example.com/?/k\t" in r.stdout
    r = _ascii_run(knox, "subscriptions", "list", "-o", "table")
    assert r.returncode == 0
    assert b"hooks.example.com/caf?" in r.stdout
    r = _ascii_run(knox, "subscriptions", "list", "--jq", ".[].url")
    assert (r.returncode, r.stdout) == (
        0,
        b"https://hooks.example.com/caf?\nhttps://hooks.example.com/?/k\n",
    )
    r = _ascii_run(knox, "subscriptions", "list", "-o", "yaml")
    assert r.returncode == 0
    assert b'"https://hooks.example.com/caf\\xE9"' in r.stdout


# --- defect 5: narrow terminals ---------------------------------------------------------


def _words_whole(text: str, shown: str) -> list[str]:
    """The words of ``text`` not shown whole in ``shown`` (a word cut in pieces)."""
    tokens = set(re.split(r"[\s│┃]+", shown))
    return [word for word in text.split() if word not in tokens]


def test_the_events_table_at_60_columns_keeps_every_word_whole() -> None:
    # Was: "Desc / ript / ion", "devi / ce", "fini / shed" in a 4-character column.
    code, shown = on_a_terminal(["events", "-s", "KG"], _env(COLUMNS="60"), columns=60)
    assert code == 0
    assert max(len(line) for line in shown.splitlines()) <= 60
    assert "Description" in shown.split()
    for event in catalogue.by_service("KG"):
        assert event.name in shown.split()
        assert _words_whole(event.description, shown) == [], event.name


def test_the_subscriptions_table_at_60_columns_keeps_ids_and_events_whole(
    knox: EmulatorHandle, cli: Cli
) -> None:
    url = "https://hooks.example.com/knox/callbacks/receiver"
    r = cli("subscribe", "--url", url, "-e", "KG_DEVICE_RELOCK_TIMESTAMP_APPLIED", "--json")
    sid = r.json()["subscriptionId"]
    env = _knox_env(knox, COLUMNS="60")
    code, shown = on_a_terminal(["subscriptions", "list"], env, columns=60)
    assert code == 0
    assert max(len(line) for line in shown.splitlines()) <= 60
    assert sid in shown.split()
    assert "KG_DEVICE_RELOCK_TIMESTAMP_APPLIED" in re.split(r"[\s│,]+", shown)
    # on a terminal a table is a table (tsv is for pipes): at 160 columns every column,
    # at 200 the URL on one line too
    code, wide = on_a_terminal(["subscriptions", "list"], _knox_env(knox), columns=160)
    assert code == 0
    assert "\t" not in wide
    assert wide.split()[2:11:2] == ["ID", "URL", "Events", "Created", "Updated"]
    code, wide = on_a_terminal(["subscriptions", "list"], _knox_env(knox), columns=200)
    assert url in wide


# --- defect 7: CI on a terminal ---------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true"])
def test_ci_on_a_terminal_says_ci_is_set_not_not_a_terminal(
    knox: EmulatorHandle, cli: Cli, value: str
) -> None:
    sid = cli("subscribe", "--url", "https://a.example/k", "-e", "KG_DEVICE_LOCKED", "--json")
    code, shown = on_a_terminal(
        ["subscriptions", "delete", sid.json()["subscriptionId"]], _knox_env(knox, CI=value)
    )
    assert code == 2
    assert f"Error: refusing to delete without confirmation: CI is set (CI={value})\n" in shown
    assert "not a terminal" not in shown


@pytest.mark.parametrize("value", ["false", "0", ""])
def test_ci_false_zero_or_empty_on_a_terminal_is_not_ci(
    knox: EmulatorHandle, cli: Cli, value: str
) -> None:
    sid = cli("subscribe", "--url", "https://a.example/k", "-e", "KG_DEVICE_LOCKED", "--json")
    ident = sid.json()["subscriptionId"]
    code, shown = on_a_terminal(
        ["subscriptions", "delete", ident], _knox_env(knox, CI=value), answer=b"n"
    )
    assert code == 0
    assert f"Delete 1 subscription(s): {ident}? [y/N]" in shown
    assert "cancelled: nothing deleted" in shown


def test_piped_without_a_terminal_still_says_not_a_terminal(cli: Cli) -> None:
    r = cli("subscriptions", "delete", "x")
    assert r.code == 2
    assert r.err.startswith("Error: refusing to delete without confirmation: not a terminal\n")

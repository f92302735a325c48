"""Random command lines, from a seed: none may end in "unexpected error" (exit 1).

Each run builds 160 argument lists from real commands, their flags, and values a user
gets wrong (empty, "-", out-of-range ports, NaN, missing paths, a directory, non-UTF-8,
markup-like text, 3,000 characters...), runs them in-process against the emulator and
asserts a documented exit code with a one-line error and no traceback. This is how
`cert fetch --out /` (exit 1, ValueError) was found.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.cli.conftest import Cli
from tests.conftest import SAMSUNG_FIXTURES

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle

DOCUMENTED = {0, 2, 3, 4, 5, 6, 7, 8}

VALUES = [
    "", "-", "x", "0", "-1", "99999", "nan", "/", ".", "missing/x.pem",
    "http://", "https://127.0.0.1:9/knox", "http://127.0.0.1:9/", "ftp://127.0.0.1/",
    "KG_DEVICE_LOCKED", "kg", "KDMS_DEVICE_UPLOAD", "\udcff", "[/x]", ":cd:", "a" * 3000,
    "expired.pem", "json", "-o", "--json",
]  # fmt: skip
COMMANDS: dict[tuple[str, ...], list[str | None]] = {
    ("auth", "status"): [],
    ("auth", "token"): [],
    ("cert", "show"): ["--file"],
    ("cert", "fetch"): ["--out"],
    ("events",): ["--service"],
    ("subscribe",): ["--url", "--event", "--allow-http"],
    ("subscriptions", "list"): [],
    ("subscriptions", "get"): [None],
    ("subscriptions", "update"): [None, "--url", "--event", "--add-event", "--remove-event"],
    ("subscriptions", "delete"): [None, "--all", "--yes"],
    ("verify",): ["--body", "--signature", "--headers", "--nonce", "--cert", "--nonce-db"],
    ("trigger",): [None, "--payload", "--trace-id"],
    ("ui",): ["--listen", "--follow", "--path", "--cert"],
}
SWITCHES = {"--allow-http", "--all", "--yes", "--json"}


def command_lines(seed: int, count: int) -> Iterator[list[str]]:
    rnd = random.Random(seed)
    for _ in range(count):
        command = rnd.choice(list(COMMANDS))
        args = list(command)
        for _ in range(rnd.randint(0, 4)):
            flag = rnd.choice([*COMMANDS[command], "-o", "--json"])
            if flag is None:
                args.append(rnd.choice(VALUES))
            elif flag in SWITCHES:
                args.append(flag)
            else:
                args += [flag, rnd.choice(VALUES)]
        yield args


@pytest.fixture(scope="module")
def shared_knox() -> Iterator[EmulatorHandle]:
    from knoxhook.emulator.testing import running_emulator

    with running_emulator(delivery_retries=0, delivery_timeout=0.5) as handle:
        yield handle


@pytest.mark.parametrize("seed", [1, 3])
def test_no_command_line_ends_in_an_unexpected_error(
    shared_knox: EmulatorHandle,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    seed: int,
) -> None:
    # Every path value is relative, so whatever a command writes (--out, --nonce-db) lands
    # here: a copy of the expired Samsung certificate, never the fixture itself.
    monkeypatch.chdir(tmp_path)
    shutil.copy(SAMSUNG_FIXTURES / "samsung-knox-validation-certificate-2022.pem", "expired.pem")
    monkeypatch.setenv("KNOXHOOK_BASE_URL", shared_knox.base_url)
    monkeypatch.setenv("KNOXHOOK_CLIENT_ID", shared_knox.client_id)
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", shared_knox.client_secret)
    monkeypatch.setenv("KNOXHOOK_EMULATOR_URL", shared_knox.base_url)
    failures = []
    for args in command_lines(seed, 80):
        r = cli(*args, stdin=b"{}")  # the cli fixture already fails on a traceback
        lines = [line for line in r.err.splitlines() if line.startswith("Error: ")]
        if r.code not in DOCUMENTED or len(lines) > 1 or "unexpected error" in r.err:
            failures.append((args, r.code, r.err[-300:]))
    assert not failures, failures

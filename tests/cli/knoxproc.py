"""Run ``knoxhook`` as a real process (``python -m knoxhook``), for defects seen through
one: what reaches stderr, the exit code, and how long it took.

The child inherits the test's isolated environment (``tests/conftest.py``: config and
cache dirs, the null keyring); ``env=`` adds or overrides variables. Every run is bounded
by ``timeout`` seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float


def knoxhook(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: bytes = b"",
    timeout: float = 60.0,
) -> Run:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "knoxhook", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, "CI": "true", **(env or {})},
        timeout=timeout,
        check=False,
    )
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    out = proc.stdout.decode("utf-8", "replace")
    return Run(proc.returncode, out, err, time.monotonic() - started)

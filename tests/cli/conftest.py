"""Shared CLI test helpers: run ``knoxhook`` in-process and read what it said.

``cli("subscriptions", "list", "--json")`` returns a ``Result`` with the exit code,
stdout and stderr; it fails the test on a traceback. ``stdin=`` feeds standard input.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

from knoxhook.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def error(self) -> dict[str, Any]:
        """The ``{"error": {...}}`` object of a --json failure (stderr is only that)."""
        document = json.loads(self.err)
        assert set(document) == {"error"}
        assert set(document["error"]) == {"code", "message", "hint"}
        error: dict[str, Any] = document["error"]
        return error


class Cli(Protocol):
    def __call__(self, *args: str, stdin: bytes | None = None) -> Result: ...


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run the CLI in-process like a script would (no TTY); see the module docstring."""

    def run(*args: str, stdin: bytes | None = None) -> Result:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        with pytest.raises(SystemExit) as exc:
            main(list(args))
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        code = exc.value.code
        return Result(code if isinstance(code, int) else 1, out, err)

    return run

"""Shared CLI test helpers: run ``knoxhook`` in-process and read what it said.

``cli("subscriptions", "list", "--json")`` returns a ``Result`` with the exit code,
stdout and stderr; it fails the test on a traceback. ``stdin=`` feeds standard input.

``shared_emulator`` is one Knox emulator per test module (starting one costs ~0.5 s);
``emulator`` is it reset (no subscriptions, tokens, faults or counters; a valid
certificate), and ``knox`` is that with the CLI configured for it through the
environment, as a CI job would be.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from knoxhook.cli.main import main

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle


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


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``knoxhook ARGS`` in-process: (exit code, stdout, stderr); never a traceback."""
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    code = exc.value.code
    return (code if isinstance(code, int) else 1), out, err


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


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[EmulatorHandle]:
    """One emulator for the test module."""
    from knoxhook.emulator.testing import running_emulator

    with running_emulator() as handle:
        yield handle


@pytest.fixture
def emulator(shared_emulator: EmulatorHandle) -> EmulatorHandle:
    """The module's emulator, reset, serving a valid certificate."""
    shared_emulator.reset()
    shared_emulator.set_certificate("valid")
    return shared_emulator


@pytest.fixture
def knox(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> EmulatorHandle:
    """The reset emulator, with the CLI configured for it through the environment."""
    monkeypatch.setenv("KNOXHOOK_BASE_URL", emulator.base_url)
    monkeypatch.setenv("KNOXHOOK_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", emulator.client_secret)
    return emulator

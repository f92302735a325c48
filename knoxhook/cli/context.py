"""One run of ``knoxhook``: the terminal it runs in, and the global options.

``main()`` makes ONE ``Invocation`` (httpie's ``Environment`` is the model): it captures
the streams, whether each is a terminal, and the environment variables once, and guesses
the output format from argv so that even a usage error is rendered as asked. It passes
the object to the app (click's ``obj``) and installs it for the helpers
(``context.current()``); the root callback completes the same object with the global
options it parsed. Every decision about the terminal is a property here:

- ``colour(stream)``: never with ``--no-color``, ``NO_COLOR``, ``CI``, a machine output
  format, or on a stream that is not a terminal;
- ``may_prompt``: stdin and stderr are terminals, and not ``CI`` (else a command needs
  its flag: ``--yes``, ``--client-secret-stdin``);
- ``stdin_is_terminal``: say how to end typed input, or reading stdin looks hung;
- ``full_screen``: stdin and stdout are terminals (``knoxhook ui``).

Tests make their own: ``with context.use(Invocation(Environment(...))):``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, Annotated, Any

import typer


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    NDJSON = "ndjson"


MACHINE_FORMATS = frozenset({OutputFormat.JSON, OutputFormat.NDJSON})

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON (same as --output json).", show_default=False)
]
OutputOption = Annotated[
    OutputFormat | None,
    typer.Option("--output", "-o", help="Output format.", case_sensitive=False, show_default=False),
]


def pick_format(json_flag: bool, output: OutputFormat | None) -> OutputFormat | None:
    """``--json`` wins over ``--output``; None when neither was given."""
    if json_flag:
        return OutputFormat.JSON
    return output


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


@dataclass(frozen=True)
class Environment:
    """The streams, their terminal-ness and the environment variables, captured once."""

    stdin: IO[str]
    stdout: IO[str]
    stderr: IO[str]
    stdin_isatty: bool
    stdout_isatty: bool
    stderr_isatty: bool
    variables: Mapping[str, str] = field(repr=False)

    @classmethod
    def from_process(cls) -> Environment:
        return cls(
            sys.stdin, sys.stdout, sys.stderr,
            _isatty(sys.stdin), _isatty(sys.stdout), _isatty(sys.stderr),
            os.environ,
        )  # fmt: skip

    @property
    def ci(self) -> bool:
        return bool(self.variables.get("CI"))


@dataclass
class Invocation:
    """This run: its environment and its global options (``knoxhook --help``)."""

    env: Environment
    profile: str | None = None
    output: OutputFormat | None = None  # None: the command's default (a table)
    verbose: bool = False
    debug: bool = False
    no_color: bool = False
    allow_http: bool = False  # --allow-http: plain http:// to a remote Knox URL
    timeout: float | None = None  # --timeout SECONDS (checked), else env/profile/default

    @classmethod
    def from_argv(cls, args: Sequence[str], env: Environment | None = None) -> Invocation:
        """Before parsing: a best guess, so a usage error is reported as JSON when asked
        (``--json``, ``--output json|ndjson`` in any spelling, anywhere in argv)."""
        output: OutputFormat | None = None
        machine = {"json": OutputFormat.JSON, "ndjson": OutputFormat.NDJSON}
        for i, arg in enumerate(args):
            value = None
            if arg in ("--output", "-o") and i + 1 < len(args):
                value = args[i + 1]
            elif arg.startswith("--output="):
                value = arg[len("--output=") :]
            elif arg.startswith("-o") and not arg.startswith("--"):
                value = arg[2:]
            if arg == "--json":
                output = OutputFormat.JSON
            elif value is not None and value.lower() in machine:
                output = machine[value.lower()]
        return cls(
            env or Environment.from_process(),
            output=output,
            debug="--debug" in args,
            no_color="--no-color" in args,
        )

    def set_globals(
        self,
        *,
        profile: str | None,
        output: OutputFormat | None,
        verbose: bool,
        debug: bool,
        no_color: bool,
        allow_http: bool = False,
        timeout: float | None = None,
    ) -> None:
        """The root callback's parsed options. It sees only those given before the
        command, so a format guessed from later argv stays: ``subscriptions get --json``
        without its ID still reports the usage error as JSON."""
        self.profile = profile
        self.output = output or self.output
        self.verbose, self.debug, self.no_color = verbose, debug, no_color
        self.allow_http = allow_http
        self.timeout = timeout

    def output_format(
        self, json_flag: bool = False, output: OutputFormat | None = None
    ) -> OutputFormat:
        """The format for this command: its own flags beat the global ones; default table.
        A command's choice also decides how its errors are rendered."""
        chosen = pick_format(json_flag, output)
        if chosen is not None:
            self.output = chosen
            return chosen
        return self.output or OutputFormat.TABLE

    @property
    def machine_output(self) -> bool:
        return self.output in MACHINE_FORMATS

    def colour(self, *, stderr: bool = False) -> bool:
        """May output to stdout (or stderr) be coloured?"""
        env = self.env
        if self.no_color or env.variables.get("NO_COLOR") or env.ci:
            return False
        if self.output not in (None, OutputFormat.TABLE):
            return False
        return env.stderr_isatty if stderr else env.stdout_isatty

    @property
    def may_prompt(self) -> bool:
        """May we ask a question? Only with a terminal on both ends, and outside CI."""
        return self.env.stdin_isatty and self.env.stderr_isatty and not self.env.ci

    @property
    def stdin_is_terminal(self) -> bool:
        """Reading stdin would wait for typing (say how to end it, or it looks hung)."""
        return self.env.stdin_isatty

    @property
    def full_screen(self) -> bool:
        """Can a full-screen UI run: a terminal to read keys from and draw on?"""
        return self.env.stdin_isatty and self.env.stdout_isatty


_current: Invocation | None = None


def current() -> Invocation:
    """The invocation ``main()`` installed; outside one (a helper called from a test or
    a library), a fresh one for the process as it is now, with default options."""
    if _current is not None:
        return _current
    return Invocation(Environment.from_process())


@contextmanager
def use(invocation: Invocation) -> Iterator[Invocation]:
    """Install ``invocation`` for ``current()`` while the block runs (``main()`` does)."""
    global _current
    previous, _current = _current, invocation
    try:
        yield invocation
    finally:
        _current = previous


def output_format(json_flag: bool = False, output: OutputFormat | None = None) -> OutputFormat:
    """``current().output_format(...)``: what a command calls with its --json/--output."""
    return current().output_format(json_flag, output)

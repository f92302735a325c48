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
    TSV = "tsv"  # tab-separated, a header line; what a table becomes off a terminal


MACHINE_FORMATS = frozenset({OutputFormat.JSON, OutputFormat.NDJSON})
ALL_FORMATS = frozenset(OutputFormat)
# a command printing one line per event as it happens (listen): no yaml, no tsv
STREAM_FORMATS = frozenset({OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.NDJSON})
# a command with its own human output and no rows to tabulate (demo)
NO_TSV_FORMATS = ALL_FORMATS - {OutputFormat.TSV}

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON (same as --output json).", show_default=False)
]
OutputOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--output",
        "-o",
        help="Output format (table on a terminal, else tsv).",
        case_sensitive=False,
        show_default=False,
    ),
]

# CI=false, CI=0, CI= (a template's default) mean "not CI"
_FALSE = frozenset({"", "0", "false", "no", "off"})


def pick_format(json_flag: bool, output: OutputFormat | None) -> OutputFormat | None:
    """``--json`` or ``--output``; None when neither was given. Both, saying different
    things (``--json -o yaml``), is a usage error naming both."""
    if json_flag:
        if output not in (None, OutputFormat.JSON):
            from knoxhook.errors import UsageError

            raise UsageError(f"--json and --output {output} conflict", hint="give one of them")
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
        """``CI`` is set to something other than false/0/no/off/empty."""
        return self.variables.get("CI", "").strip().lower() not in _FALSE


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
    given_output: OutputFormat | None = None  # the root's own --json/--output, parsed
    # a data command's shaping options (cli/shaping.py adds them to every such command)
    jq: Any = None  # the compiled --jq program
    fields: tuple[str, ...] | None = None  # --fields a,b
    show_secrets: bool = False  # --show-secrets: URL passwords in tables, tsv, yaml
    json_log: bool = False  # listen --log-format json: every stderr line a JSON log object

    @classmethod
    def from_argv(cls, args: Sequence[str], env: Environment | None = None) -> Invocation:
        """Before parsing: a best guess, so a usage error is reported as JSON when asked
        (``--json``, ``--jq``, ``--output json|ndjson`` in any spelling, anywhere)."""
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
            if arg == "--json" or arg == "--jq" or arg.startswith("--jq="):
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
        self.given_output = output
        self.output = output or self.output
        self.verbose, self.debug, self.no_color = verbose, debug, no_color
        self.allow_http = allow_http
        self.timeout = timeout

    def output_format(
        self,
        json_flag: bool = False,
        output: OutputFormat | None = None,
        *,
        supports: frozenset[OutputFormat] = ALL_FORMATS,
        shaped: bool = True,
    ) -> OutputFormat:
        """The format for this command, from its flags or the global ones (the two
        saying different things is a usage error); default table. ``--jq`` means JSON.
        A command that prints only some formats (``listen``: no yaml) names them in
        ``supports``; one that does not print through ``display.emit`` says
        ``shaped=False``, and ``--jq``/``--fields`` are refused. The choice also decides
        how the command's errors are rendered."""
        from knoxhook.errors import UsageError

        chosen = pick_format(json_flag, output)
        given = self.given_output
        if chosen is not None and given is not None and chosen is not given:
            raise UsageError(
                f"--output {given} (before the command) and --output {chosen} conflict",
                hint="give one of them",
            )
        chosen = chosen or given or self.output
        if self.jq is not None:
            if chosen not in (None, OutputFormat.JSON):
                raise UsageError(f"--jq and --output {chosen} conflict", hint="--jq prints JSON")
            chosen = OutputFormat.JSON
        fmt = chosen or OutputFormat.TABLE
        if fmt not in supports:
            names = ", ".join(f for f in OutputFormat if f in supports)
            raise UsageError(f"--output {fmt} is not available here", hint=f"use one of: {names}")
        if not shaped and (self.jq is not None or self.fields is not None):
            flag = "--jq" if self.jq is not None else "--fields"
            raise UsageError(f"{flag} is not available here", hint="use --json, and jq")
        if chosen is not None:
            self.output = chosen
        return fmt

    def no_prompt_reason(self) -> str | None:
        """Why ``may_prompt`` is False (for "refusing to X without confirmation: ...")."""
        if not (self.env.stdin_isatty and self.env.stderr_isatty):
            return "not a terminal"
        if self.env.ci:
            return f"CI is set (CI={self.env.variables.get('CI', '')})"
        return None

    def require_confirmation_possible(self, action: str) -> None:
        """Refuse (exit 2) to ``action`` without ``--yes`` where no one can be asked."""
        reason = self.no_prompt_reason()
        if reason is not None:
            from knoxhook.errors import UsageError

            raise UsageError(
                f"refusing to {action} without confirmation: {reason}",
                hint=f"pass --yes to {action} without asking",
            )

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


def output_format(
    json_flag: bool = False,
    output: OutputFormat | None = None,
    *,
    supports: frozenset[OutputFormat] = ALL_FORMATS,
    shaped: bool = True,
) -> OutputFormat:
    """``current().output_format(...)``: what a command calls with its --json/--output."""
    return current().output_format(json_flag, output, supports=supports, shaped=shaped)

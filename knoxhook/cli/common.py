"""What every command shares: global state, output formats, rendering, prompts.

Output contract (shared/DESIGN.md): data to stdout, diagnostics to stderr; no colour,
prompt or spinner when the stream is not a TTY or when ``--json``/``NO_COLOR``/``CI``
say so; ``--json`` equals ``--output json``; with it, errors are written to stderr as
``{"error": {"code", "message", "hint"}}``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from knoxhook.client import KnoxClient
    from knoxhook.config import Settings
    from knoxhook.httpoptions import HttpOptions
    from knoxhook.tokens import TokenManager


SECRET_ENV = "KNOXHOOK_CLIENT_SECRET"  # noqa: S105 - a variable name


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    NDJSON = "ndjson"


JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON (same as --output json).", show_default=False)
]
OutputOption = Annotated[
    OutputFormat | None,
    typer.Option("--output", "-o", help="Output format.", case_sensitive=False, show_default=False),
]


def pick_format(json_flag: bool, output: OutputFormat | None) -> OutputFormat | None:
    if json_flag:
        return OutputFormat.JSON
    return output


@dataclass
class AppState:
    """Global options, set by the root callback (and guessed from argv before parsing)."""

    profile: str | None = None
    output: OutputFormat | None = None
    verbose: bool = False
    debug: bool = False
    no_color: bool = False
    allow_http: bool = False  # --allow-http: plain http:// to a remote Knox URL
    guessed: bool = False  # made by from_argv, before parsing

    @classmethod
    def from_argv(cls, args: Sequence[str]) -> AppState:
        """A best guess before parsing, so a usage error is reported as JSON when asked
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
            output=output, debug="--debug" in args, no_color="--no-color" in args, guessed=True
        )


_state = AppState()


def set_state(state: AppState) -> None:
    """Install ``state``. The root callback's state, which sees only the options given
    before the subcommand, keeps the argv guess of ``--json``: so ``subscriptions get
    --json`` without its ID still reports the usage error as JSON."""
    global _state
    if not state.guessed and state.output is None and _state.guessed:
        state.output = _state.output
    _state = state


def get_state() -> AppState:
    return _state


def output_format(json_flag: bool = False, output: OutputFormat | None = None) -> OutputFormat:
    """The format for this command: its own flags beat the global ones; default table."""
    chosen = pick_format(json_flag, output)
    if chosen is not None:
        _state.output = chosen  # so errors of this command are rendered the same way
        return chosen
    return _state.output or OutputFormat.TABLE


def color_allowed() -> bool:
    if _state.no_color or os.environ.get("NO_COLOR") or os.environ.get("CI"):
        return False
    return _state.output in (None, OutputFormat.TABLE)


def is_interactive() -> bool:
    """May we prompt? Only with a TTY on both ends and outside CI."""
    return sys.stdin.isatty() and sys.stderr.isatty() and not os.environ.get("CI")


PIPE_WIDTH = 200  # table width when stdout is not a terminal (and COLUMNS is unset)


def console(*, stderr: bool = False) -> Console:
    """A rich console for stdout (data) or stderr (diagnostics)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    colour = color_allowed() and tty
    return Console(
        file=stream,
        no_color=not colour,
        color_system="auto" if colour else None,
        highlight=False,
        # ":CD:" in a fingerprint must not become an emoji
        emoji=False,
        soft_wrap=not tty,
        # piped tables: wide enough that ids and URLs stay on one line for grep/cut
        width=None if tty or os.environ.get("COLUMNS") else PIPE_WIDTH,
    )


def info(message: str, *, markup: bool = False) -> None:
    """A diagnostic line on stderr (shown in every format; never data).

    ``message`` is plain text: URLs, paths and server messages in it are shown as they
    are ("[/x]" in a URL once crashed a command after Knox had made the subscription).
    Pass ``markup=True`` only for a literal rich-markup string with escaped values.
    """
    # a path from argv may hold a non-UTF-8 byte (a lone surrogate): show it escaped
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    if color_allowed() and sys.stderr.isatty():
        from rich.text import Text

        text = Text.from_markup(message) if markup else Text(message)
        console(stderr=True).print(text)
    else:
        sys.stderr.write((_plain(message) if markup else message) + "\n")


def verbose(message: str) -> None:
    if _state.verbose or _state.debug:
        info(message)


def warn(message: str) -> None:
    from rich.markup import escape

    info(f"[yellow]warning:[/yellow] {escape(message)}", markup=True)


def _plain(message: str) -> str:
    from rich.text import Text

    return Text.from_markup(message).plain


def report_error(code: str, message: str, hint: str | None) -> None:
    """Write an error to stderr: a JSON object with --json, else one line (+ hint)."""
    if _state.output in (OutputFormat.JSON, OutputFormat.NDJSON):
        body = {"error": {"code": code, "message": message, "hint": hint}}
        sys.stderr.write(json.dumps(body) + "\n")
        return
    sys.stderr.write(f"Error: {one_line(message)}\n")
    if hint:
        sys.stderr.write(f"Hint: {one_line(hint)}\n")


def one_line(text: str) -> str:
    """``text`` as one line of inert characters: line breaks become spaces, and other
    control characters (an escape sequence in a server's error message) are escaped."""
    out = []
    for char in text:
        if char in "\r\n\t":
            out.append(" ")
        elif char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1])
    return "".join(out)


def require_text(**values: str | Sequence[str] | None) -> None:
    """A usage error when an argument is not valid text (a non-UTF-8 byte in argv).

    Python keeps such bytes as lone surrogates, which fail much later, deep in the HTTP
    layer, as an "unexpected error". Keyword names are the flags: ``trace_id`` is
    ``--trace-id``; ``id``/``ids`` are the ID argument.
    """
    from knoxhook.errors import UsageError

    for name, value in values.items():
        items = [value] if isinstance(value, str) else list(value or ())
        for item in items:
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                flag = "ID" if name in ("id", "ids") else "--" + name.replace("_", "-")
                raise UsageError(
                    f"{flag}: {item!r} is not valid UTF-8 text",
                    hint="check the value's encoding (a byte from a Latin-1 file or terminal?)",
                ) from None


def check_port(port: int, flag: str = "--port") -> None:
    """A usage error unless ``port`` is 0..65535 (0 picks a free one)."""
    if not 0 <= port <= 65535:
        from knoxhook.errors import UsageError

        raise UsageError(f"{flag} {port}: a port is 0..65535", hint="0 picks a free port")


def confirm(question: str) -> bool:
    """Ask yes/no on a TTY. Callers must check ``is_interactive()`` first."""
    return typer.confirm(question, default=False, err=True)


# --- rendering data ---------------------------------------------------------------------

Column = tuple[str, str]  # (key in the JSON object, table heading)


def emit(
    data: Any,
    *,
    columns: Sequence[Column] | None = None,
    fmt: OutputFormat | None = None,
    title: str | None = None,
) -> None:
    """Print ``data`` (a JSON-able dict or list of dicts) to stdout in the chosen format.

    ``columns`` chooses and orders the table columns for a list; a dict is shown as a
    two-column key/value table. JSON keys are printed in the order given (stable).
    """
    fmt = fmt or output_format()
    if fmt is OutputFormat.JSON:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif fmt is OutputFormat.NDJSON:
        rows = data if isinstance(data, list) else [data]
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt is OutputFormat.YAML:
        import yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    else:
        _table(data, columns, title)
    sys.stdout.flush()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return "\n".join(_cell(v) for v in value) if value else "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _table(data: Any, columns: Sequence[Column] | None, title: str | None) -> None:
    from rich.table import Table
    from rich.text import Text

    def cell(value: Any) -> Text:
        # Text, not a str: a value is data, never rich markup ("[b]" in a URL stays "[b]")
        return Text(_cell(value))

    out = console()
    if isinstance(data, Mapping):
        table = Table(title=title, show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for key, value in data.items():
            table.add_row(Text(str(key)), cell(value))
        out.print(table)
        return
    rows = list(data)
    if not rows:
        info("(none)")
        return
    cols = columns or [(k, k) for k in rows[0]]
    table = Table(title=title)
    for number, (_, heading) in enumerate(cols):
        # the first column is the key people copy (an id, an event name): never folded
        table.add_column(heading, overflow="fold", no_wrap=number == 0)
    for row in rows:
        table.add_row(*(cell(row.get(key)) for key, _ in cols))
    out.print(table)


def settings(**overrides: str | None) -> Settings:
    """The resolved settings for this invocation (flag > env > profile > default).

    ``overrides`` are the command's own flags (``base_url=...``); None means "not given".
    """
    from knoxhook.config import load_settings

    return load_settings(profile=_state.profile, overrides=overrides, allow_http=_state.allow_http)


def http_trace() -> Callable[[str], None] | None:
    """The ``--debug`` HTTP trace callback (None without ``--debug``)."""
    return _trace_line if _state.debug else None


def http_options(resolved: Settings | None = None, *, timeout: float | None = None) -> HttpOptions:
    """How this command's HTTP clients are built (one ``HttpOptions``): the Knox host of
    ``resolved`` (None: a client given absolute URLs), the ``--debug`` trace, the
    User-Agent, ``timeout`` (default 30 s). Inject it into ``TokenManager`` and
    ``KnoxClient`` alike, or make a client with ``.client()`` / ``.async_client()``."""
    from knoxhook.httpoptions import HttpOptions

    options: dict[str, Any] = {"trace": http_trace()}
    if timeout is not None:
        options["timeout"] = timeout
    if resolved is None:
        return HttpOptions(**options)
    return HttpOptions.for_settings(resolved, **options)


def token_manager(resolved: Settings, *, secret: str | None = None) -> TokenManager:
    """A ``TokenManager`` for ``resolved`` with this command's ``http_options``."""
    from knoxhook.tokens import TokenManager

    return TokenManager(resolved, secret=secret, http=http_options(resolved))


def _trace_line(line: str) -> None:
    info(line)


def check_urls(resolved: Settings) -> Settings:
    """``validation.validate_knox_urls``: a usage error naming where a base or token URL
    came from when it is not http(s), or plain http to a remote host without
    --allow-http; the warning that it was allowed goes to stderr."""
    from knoxhook.validation import validate_knox_urls

    return validate_knox_urls(resolved, warn=warn)


@contextmanager
def secret_env_hint() -> Iterator[None]:
    """Refused credentials while ``KNOXHOOK_CLIENT_SECRET`` is set: say that the variable
    wins over the stored secret (a stale CI variable, not a new login, is the fix)."""
    from knoxhook.errors import AuthenticationError

    try:
        yield
    except AuthenticationError as exc:
        if os.environ.get(SECRET_ENV):
            exc.hint = f"{SECRET_ENV} is set and wins over the stored secret: check or unset it"
        raise


@contextmanager
def knox_client(**overrides: str | None) -> Iterator[KnoxClient]:
    """An authenticated ``KnoxClient`` for this invocation (``--debug`` traces to stderr),
    as a context manager. ``overrides`` as for ``settings()``."""
    from knoxhook.client import open_client

    resolved = check_urls(settings(**overrides))
    with secret_env_hint(), open_client(resolved, http=http_options(resolved)) as client:
        yield client

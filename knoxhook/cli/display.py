"""What commands print: data to stdout, diagnostics and errors to stderr.

Output contract (shared/DESIGN.md): data to stdout, diagnostics to stderr; no colour,
prompt or spinner when the stream is not a TTY or when ``--json``/``NO_COLOR``/``CI``
say so (decided by ``context.Invocation``); ``--json`` equals ``--output json``; with it,
errors are written to stderr as ``{"error": {"code", "message", "hint"}}``.

Values are data, never rich markup (docs/dev/cli-qa.md): ``info(message)`` prints plain
text, table cells are ``rich.text.Text``, consoles are made with ``emoji=False``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import typer

from knoxhook.cli.context import OutputFormat, current

if TYPE_CHECKING:
    from rich.console import Console

PIPE_WIDTH = 200  # table width when stdout is not a terminal (and COLUMNS is unset)


def console(*, stderr: bool = False) -> Console:
    """A rich console for stdout (data) or stderr (diagnostics)."""
    from rich.console import Console

    invocation = current()
    env = invocation.env
    tty = env.stderr_isatty if stderr else env.stdout_isatty
    colour = invocation.colour(stderr=stderr)
    return Console(
        file=env.stderr if stderr else env.stdout,
        no_color=not colour,
        color_system="auto" if colour else None,
        highlight=False,
        # ":CD:" in a fingerprint must not become an emoji
        emoji=False,
        soft_wrap=not tty,
        # piped tables: wide enough that ids and URLs stay on one line for grep/cut
        width=None if tty or env.variables.get("COLUMNS") else PIPE_WIDTH,
    )


def info(message: str, *, markup: bool = False) -> None:
    """A diagnostic line on stderr (shown in every format; never data).

    ``message`` is plain text: URLs, paths and server messages in it are shown as they
    are ("[/x]" in a URL once crashed a command after Knox had made the subscription).
    Pass ``markup=True`` only for a literal rich-markup string with escaped values.
    """
    # a path from argv may hold a non-UTF-8 byte (a lone surrogate): show it escaped
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    invocation = current()
    if invocation.colour(stderr=True):
        from rich.text import Text

        text = Text.from_markup(message) if markup else Text(message)
        console(stderr=True).print(text)
    else:
        invocation.env.stderr.write((_plain(message) if markup else message) + "\n")


def verbose(message: str) -> None:
    """A diagnostic line only with ``--verbose`` (or ``--debug``)."""
    invocation = current()
    if invocation.verbose or invocation.debug:
        info(message)


def warn(message: str) -> None:
    from rich.markup import escape

    info(f"[yellow]warning:[/yellow] {escape(message)}", markup=True)


def _plain(message: str) -> str:
    from rich.text import Text

    return Text.from_markup(message).plain


def report_error(code: str, message: str, hint: str | None) -> None:
    """Write an error to stderr: a JSON object with --json, else one line (+ hint)."""
    invocation = current()
    stderr = invocation.env.stderr
    if invocation.machine_output:
        body = {"error": {"code": code, "message": message, "hint": hint}}
        stderr.write(json.dumps(body) + "\n")
        return
    stderr.write(f"Error: {one_line(message)}\n")
    if hint:
        stderr.write(f"Hint: {one_line(hint)}\n")


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


def confirm(question: str) -> bool:
    """Ask yes/no on stderr. Callers check ``context.current().may_prompt`` first."""
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
    invocation = current()
    fmt = fmt or invocation.output_format()
    stdout = invocation.env.stdout
    if fmt is OutputFormat.JSON:
        stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif fmt is OutputFormat.NDJSON:
        rows = data if isinstance(data, list) else [data]
        for row in rows:
            stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt is OutputFormat.YAML:
        import yaml

        stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    else:
        _table(data, columns, title)
    stdout.flush()


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

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
from collections.abc import Sequence
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
    if invocation.json_log:
        _log_line("info", _plain(message) if markup else message)
        return
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

    if current().json_log:
        _log_line("warning", message)
        return
    info(f"[yellow]warning:[/yellow] {escape(message)}", markup=True)


def json_log_line(
    level: str, logger: str, message: str, created: float | None = None, **extra: Any
) -> str:
    """One JSON log object (``listen --log-format json``): ``time`` (RFC 3339, UTC),
    ``level``, ``logger``, ``message``, then ``extra``. The one shape of every such line:
    the receiver's logging records, and the command's own info, warnings and errors."""
    import time

    from knoxhook.timestamps import rfc3339

    when = rfc3339(time.time() if created is None else created, milliseconds=True)
    line = {"time": when, "level": level, "logger": logger, "message": message, **extra}
    return json.dumps(line, ensure_ascii=False)


def _log_line(level: str, message: str, **extra: Any) -> None:
    current().env.stderr.write(json_log_line(level, "knoxhook", message, **extra) + "\n")


def _plain(message: str) -> str:
    from rich.text import Text

    return Text.from_markup(message).plain


def report_error(code: str, message: str, hint: str | None) -> None:
    """Write an error to stderr: a JSON object with --json, else one line (+ hint)."""
    invocation = current()
    stderr = invocation.env.stderr
    if invocation.json_log:
        _log_line("error", message, code=code, hint=hint)
        return
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


def final_format(fmt: OutputFormat) -> OutputFormat:
    """``fmt`` as it will be printed: a table nobody asked for, on a stdout that is not a
    terminal, is tsv (as gh does), so ``cut`` and ``awk`` work; ``-o table`` stays one."""
    invocation = current()
    if fmt is OutputFormat.TABLE and invocation.output is None and not invocation.env.stdout_isatty:
        return OutputFormat.TSV
    return fmt


def emit(
    data: Any,
    *,
    columns: Sequence[Column] | None = None,
    fmt: OutputFormat | None = None,
    title: str | None = None,
    drop: Sequence[str] = (),
) -> None:
    """Print ``data`` (a JSON-able dict or list of dicts) to stdout in the chosen format.

    ``columns`` chooses and orders the table columns for a list; a dict is shown as a
    two-column key/value table. JSON keys are printed in the order given (stable).
    ``drop``: the keys of the columns a narrow terminal may leave out, first one first.
    ``--fields``, ``--jq`` and URL passwords are handled here (``cli/shaping.py``).
    A stdout that cannot encode a character gets JSON escapes (``\\u00fc``), or ``?`` in
    a table: never a UnicodeEncodeError half-way through.
    """
    from knoxhook.cli import shaping, tables

    invocation = current()
    fmt = final_format(fmt or invocation.output_format())
    data, columns = shaping.select_fields(data, columns, invocation.fields)
    ascii_only = not _utf8(invocation.env.stdout)
    if invocation.jq is not None and fmt is OutputFormat.JSON:
        results = shaping.run_jq(invocation.jq, data)
        _write("".join(_jq_line(r, ascii_only) + "\n" for r in results))
        return
    if fmt in (OutputFormat.TABLE, OutputFormat.TSV) and not invocation.show_secrets:
        data = shaping.redact(data)
    if fmt is OutputFormat.JSON:
        _write(json.dumps(data, indent=2, ensure_ascii=ascii_only) + "\n")
    elif fmt is OutputFormat.NDJSON:
        rows = data if isinstance(data, list) else [data]
        _write("".join(json.dumps(row, ensure_ascii=ascii_only) + "\n" for row in rows))
    elif fmt is OutputFormat.YAML:
        import yaml

        _write(yaml.safe_dump(data, sort_keys=False, allow_unicode=not ascii_only))
    elif fmt is OutputFormat.TSV:
        _write(tables.tsv(data, columns))
        if not data:
            info("(none)")
    else:
        text = tables.render(console(), data, columns, title, drop)
        if text is None:
            info("(none)")
        else:
            _write(text)


def _jq_line(result: Any, ascii_only: bool) -> str:
    """A --jq result as gh prints it: a string raw, anything else compact JSON."""
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=ascii_only, separators=(",", ":"))


def _utf8(stream: Any) -> bool:
    import codecs

    try:
        return codecs.lookup(getattr(stream, "encoding", None) or "utf-8").name.startswith("utf")
    except LookupError:
        return False


def _write(text: str) -> None:
    """``text`` to stdout; characters its encoding lacks become ``?`` (JSON has escaped
    them already)."""
    stdout = current().env.stdout
    if not _utf8(stdout):
        encoding = getattr(stdout, "encoding", None) or "ascii"
        text = text.encode(encoding, "replace").decode(encoding)
    stdout.write(text)
    stdout.flush()

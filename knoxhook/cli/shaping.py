"""Output shaping, the same on every data command: ``--jq``, ``--fields``, ``--show-secrets``.

No command declares these: ``add_options(command)`` adds them to every command that has
``--json`` as the registry builds it, their values land on the run's
``context.Invocation``, and ``display.emit`` applies them (one place, not per command):

- ``--fields a,b``: only these keys of each object (JSON, YAML, ndjson) or these columns
  (table, tsv), in the order given. The names are the JSON keys; an unknown one is a
  usage error that lists the valid ones.
- ``--jq EXPR`` (the ``jq`` package, imported only then): implies JSON. The expression
  runs on what ``--json`` would print (after ``--fields``); each result is one line, a
  string raw and anything else compact JSON, as ``gh --jq`` prints. It is compiled while
  the options are parsed, so a bad expression is exit 2 before any request.
- ``--show-secrets``: a password in a URL (``https://user:pass@host/``) is shown as
  ``***`` in table and tsv output, the formats that land in a terminal's scrollback or
  a CI log by default (``knoxhook.httptrace.redact_url``). JSON, ndjson, YAML and
  ``--jq`` print the API's data as it was returned: the user asked for the data itself.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer

from knoxhook.cli import context

Column = tuple[str, str]  # (key in the JSON object, table heading)

JQ_HELP = "Filter the JSON with a jq expression; strings print raw (implies --json)."
FIELDS_HELP = "Only these fields (JSON keys, comma-separated): keys of JSON, columns of tables."
SECRETS_HELP = "Show URL passwords in table/tsv output (JSON/YAML always show the API's data)."


def _set_jq(value: str | None) -> None:
    if value is not None:
        context.current().jq = compile_jq(value)


def _set_fields(value: str | None) -> None:
    if value is not None:
        from knoxhook.errors import UsageError

        names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
        if not names:
            raise UsageError("--fields needs field names, for example --fields url,events")
        context.current().fields = names


def _set_show_secrets(value: bool) -> None:
    if value:
        context.current().show_secrets = True


JqOption = Annotated[
    str | None,
    typer.Option(
        "--jq", metavar="EXPR", help=JQ_HELP, callback=_set_jq, expose_value=False,
        show_default=False,
    ),
]  # fmt: skip
FieldsOption = Annotated[
    str | None,
    typer.Option(
        "--fields", metavar="A,B", help=FIELDS_HELP, callback=_set_fields, expose_value=False,
        show_default=False,
    ),
]  # fmt: skip
ShowSecretsOption = Annotated[
    bool,
    typer.Option("--show-secrets", help=SECRETS_HELP, callback=_set_show_secrets,
                 expose_value=False),
]  # fmt: skip


@functools.cache
def _params() -> tuple[Any, ...]:
    """The three click options, built once by typer from a declaration like any other."""
    import typer.main

    app = typer.Typer(add_completion=False)  # only the three options, no --install-completion

    @app.command()
    def shape(
        jq: JqOption = None, fields: FieldsOption = None, show_secrets: ShowSecretsOption = False
    ) -> None:  # never called: only its options are taken
        raise NotImplementedError

    return tuple(typer.main.get_command(app).params)


def add_options(command: Any) -> Any:
    """``command`` with ``--jq``, ``--fields`` and ``--show-secrets`` when it prints data
    (it has ``--json``); a group's subcommands are given them as they are built."""
    params = getattr(command, "params", None)
    if params is not None and any("--json" in getattr(p, "opts", ()) for p in params):
        known = {opt for p in params for opt in getattr(p, "opts", ())}
        params.extend(p for p in _params() if not known.intersection(p.opts))
    return command


def compile_jq(expression: str) -> Any:
    """The compiled program, or a usage error with jq's own message on one line."""
    from importlib import import_module

    from knoxhook.errors import UsageError

    jq = import_module("jq")  # the binding has no type stubs
    try:
        return jq.compile(expression)
    except ValueError as exc:
        hint = "see https://jqlang.org/manual/"
        raise UsageError(f"--jq: {_jq_message(exc)}", hint=hint) from exc


def _jq_message(exc: ValueError) -> str:
    """jq's first ``jq: error: ...`` line (its caret drawing and summary left out)."""
    from knoxhook.cli.display import one_line

    lines = [line for line in str(exc).splitlines() if line.startswith("jq: error")]
    if not lines:
        return one_line(str(exc))
    return one_line("; ".join(line.removeprefix("jq: error: ").rstrip(":") for line in lines))


def run_jq(program: Any, data: Any) -> list[Any]:
    """Every result of ``program`` on ``data``; a runtime error (``.foo`` of a list) is a
    usage error, raised before anything is printed."""
    from knoxhook.errors import UsageError

    try:
        return list(program.input_value(data).all())
    except ValueError as exc:
        raise UsageError(f"--jq: {_jq_message(exc)}") from exc


def check_fields(valid: Sequence[str]) -> None:
    """Refuse an unknown ``--fields`` name now: a command that changes something calls
    this before its request, so a typo is exit 2 with nothing done, not exit 2 after
    the subscription was made."""
    fields = context.current().fields
    if fields:
        _refuse_unknown(fields, valid)


def _refuse_unknown(fields: Sequence[str], valid: Sequence[str]) -> None:
    from knoxhook.errors import UsageError

    unknown = [f for f in fields if f not in valid]
    if unknown:
        raise UsageError(
            f"unknown field{'s' if len(unknown) > 1 else ''} for --fields: {', '.join(unknown)}",
            hint=f"valid fields: {', '.join(valid)}",
        )


def select_fields(
    data: Any, columns: Sequence[Column] | None, fields: Sequence[str] | None
) -> tuple[Any, Sequence[Column] | None]:
    """``data`` and ``columns`` narrowed to ``fields`` (in their order); unchanged without."""
    if not fields:
        return data, columns
    from knoxhook.errors import UsageError

    rows = [data] if isinstance(data, Mapping) else data
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        raise UsageError("--fields works on objects; this command prints something else")
    valid = list(dict.fromkeys([*(k for k, _ in columns or ()), *(k for r in rows for k in r)]))
    if valid:
        _refuse_unknown(fields, valid)
    if isinstance(data, Mapping):
        return {f: data[f] for f in fields}, None
    headings = dict(columns or ())
    return [{f: r.get(f) for f in fields} for r in rows], [(f, headings.get(f, f)) for f in fields]


def redact(value: Any) -> Any:
    """``value`` with the password of every URL in it shown as ``***`` (any depth)."""
    if isinstance(value, str):
        if "@" in value and "://" in value:
            from knoxhook.httptrace import redact_url

            return redact_url(value)
        return value
    if isinstance(value, Mapping):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value

"""Checks on what a person typed, made before the first request (docs/dev/cli-qa.md).

Each failure is a ``UsageError`` (exit 2) naming the flag, so a typo is one line in the
shell instead of an "unexpected error" deep in the HTTP layer.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from knoxhook.errors import UsageError

if TYPE_CHECKING:
    from knoxhook.config import Settings


def require_text(**values: str | Sequence[str] | None) -> None:
    """A usage error when an argument is not valid text (a non-UTF-8 byte in argv).

    Python keeps such bytes as lone surrogates, which fail much later, deep in the HTTP
    layer, as an "unexpected error". Keyword names are the flags: ``trace_id`` is
    ``--trace-id``; ``id``/``ids`` are the ID argument.
    """
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
        raise UsageError(f"{flag} {port}: a port is 0..65535", hint="0 picks a free port")


def check_urls(resolved: Settings) -> Settings:
    """``validation.validate_knox_urls``: a usage error naming where a base or token URL
    came from when it is not http(s), or plain http to a remote host without
    --allow-http; the warning that it was allowed goes to stderr."""
    from knoxhook.cli.display import warn
    from knoxhook.validation import validate_knox_urls

    return validate_knox_urls(resolved, warn=warn)


def read_secret_value(
    name: str,
    *,
    flag: str,
    env: str,
    from_stdin: bool,
    pipe_hint: str,
    never: str = "it is never accepted as a plain argument",
    strip: bool = True,
) -> str:
    """A secret for ``auth login``: one line of stdin with ``flag``, else the ``env``
    variable, else a hidden prompt on a terminal; else a usage error. Never from argv.
    ``strip`` False keeps a client secret's spaces: only the line end is cut from stdin
    and the variable is used as it is."""
    from knoxhook.cli.context import current

    if from_stdin:
        line = sys.stdin.readline()
        value = line.strip() if strip else line.rstrip("\r\n")
        if not value:
            raise UsageError(f"{flag}: nothing was read from standard input", hint=pipe_hint)
        return value
    from_env = os.environ.get(env, "")
    if strip:
        from_env = from_env.strip()
    if from_env:
        return from_env
    if current().may_prompt:
        import typer

        label = name[:1].upper() + name[1:]
        entered = str(typer.prompt(label, hide_input=True, err=True)).strip()
        if entered:
            return entered
    raise UsageError(
        f"no {name} given",
        hint=f"pipe it to {flag}, set {env}, or run on a terminal to be prompted ({never})",
    )

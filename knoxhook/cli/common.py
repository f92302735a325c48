"""The names commands used to import from here, now defined by concern.

New code imports the module of the concern it needs:

- ``context``: the one ``Invocation`` (global options; TTY, colour, CI and "may we
  prompt" decisions), ``OutputFormat``, the ``--json``/``--output`` options;
- ``display``: printing data, diagnostics and errors;
- ``checks``: checks on what a person typed, before the first request;
- ``clients``: settings, and the HTTP wiring (one ``HttpOptions`` per command).

This module only re-exports them, for command modules written before the split (listen,
verify, emulator, trigger, demo, plan, apply, legacy_auth); it goes once they import
the modules above.
"""

from __future__ import annotations

from knoxhook.cli.checks import check_port, check_urls, require_text
from knoxhook.cli.clients import (
    http_options,
    http_trace,
    knox_client,
    secret_env_hint,
    settings,
    token_manager,
)
from knoxhook.cli.context import (
    Invocation,
    JsonOption,
    OutputFormat,
    OutputOption,
    current,
    output_format,
    pick_format,
)
from knoxhook.cli.display import (
    PIPE_WIDTH,
    Column,
    confirm,
    console,
    emit,
    info,
    one_line,
    report_error,
    verbose,
    warn,
)


def is_interactive() -> bool:
    """``context.current().may_prompt``, for modules written before the context."""
    return current().may_prompt


def get_state() -> Invocation:
    """``context.current()`` (the global options of this run), for modules written
    before the context."""
    return current()


__all__ = [
    "PIPE_WIDTH",
    "Column",
    "JsonOption",
    "OutputFormat",
    "OutputOption",
    "check_port",
    "check_urls",
    "confirm",
    "console",
    "current",
    "emit",
    "get_state",
    "http_options",
    "http_trace",
    "info",
    "is_interactive",
    "knox_client",
    "one_line",
    "output_format",
    "pick_format",
    "report_error",
    "require_text",
    "secret_env_hint",
    "settings",
    "token_manager",
    "verbose",
    "warn",
]

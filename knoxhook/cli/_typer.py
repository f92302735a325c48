"""The only module that reaches into typer's private parts; the rest import from here.

typer has no public name for these: the click exceptions the error boundary must tell
apart, click's short-help shortener the lazy root help uses, and click's help formatter
(``cli/helptext.py`` keeps examples from being re-wrapped). typer 0.2x vendors
click as ``typer._click``; older typers used click itself. pyproject.toml pins typer to
the minor version this was written for (0.29), and ``tests/cli/test_fastparams.py``
fails when a name here moves.
"""

from __future__ import annotations

try:
    from typer._click import exceptions as _exceptions
    from typer._click import formatting as _formatting
    from typer._click import utils as _utils
except ImportError:  # pragma: no cover - a typer built on click itself
    try:
        from click import exceptions as _exceptions  # type: ignore[no-redef]
        from click import formatting as _formatting  # type: ignore[no-redef]
        from click import utils as _utils  # type: ignore[no-redef]
    except ImportError as exc:
        raise ImportError(
            "knoxhook needs typer 0.29 (typer._click, or click): reinstall knoxhook"
        ) from exc

ClickException = _exceptions.ClickException
HelpFormatter = _formatting.HelpFormatter
NoArgsIsHelpError = _exceptions.NoArgsIsHelpError
NoSuchOption = _exceptions.NoSuchOption
UsageError = _exceptions.UsageError
make_default_short_help = _utils.make_default_short_help

__all__ = [
    "ClickException",
    "HelpFormatter",
    "NoArgsIsHelpError",
    "NoSuchOption",
    "UsageError",
    "make_default_short_help",
]

"""The ``knoxhook`` command: the root typer app and the one error boundary.

Domain code raises ``knoxhook.errors.KnoxhookError`` subclasses; ``main()`` turns
each into a one-line message (or a JSON error object with ``--json``) and the
documented exit code. A traceback is shown only for a bug, and only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from enum import Enum
from typing import Annotated

import typer

from knoxhook import __version__
from knoxhook.cli import _fastparams, context, pipes
from knoxhook.cli._typer import ClickException, NoArgsIsHelpError, NoSuchOption
from knoxhook.cli.context import Invocation, JsonOption, OutputOption, pick_format
from knoxhook.cli.display import report_error
from knoxhook.cli.registry import LazyGroup
from knoxhook.errors import ExitCode, KnoxhookError

# typer would import pydantic (~70 ms) to coerce even absent options: see _fastparams.
_fastparams.install()

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 unexpected error, 2 usage error, 3 not configured, "
    "4 authentication refused, 5 request refused by the API, 6 not found, "
    "7 network/timeout/server error, 8 verification failed, 130 interrupted."
)

# The commands come from knoxhook.cli.registry.COMMANDS, imported only when invoked.
app = typer.Typer(
    cls=LazyGroup,
    name="knoxhook",
    help=(
        "Manage Samsung Knox Webhook Notification (KWN) subscriptions and verify their "
        "signed callbacks.\n\n"
        "Try it without a Knox account: `knoxhook demo` runs the whole workflow on the "
        "embedded Knox emulator.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  knoxhook demo\n"
        '  printf %s "$SECRET" | knoxhook auth login --client-id ID --client-secret-stdin\n'
        "  knoxhook subscribe --url https://hooks.example.com/knox --event KDMS_DEVICE_UPLOAD\n"
        "  knoxhook --profile prod subscriptions list --json\n"
        "  knoxhook listen --port 8000 --record callbacks.ndjson\n\n" + EXIT_CODES_HELP
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"knoxhook {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", "-p", help="Profile to use (env KNOXHOOK_PROFILE).", show_default=False
        ),
    ] = None,
    json_output: JsonOption = False,
    output: OutputOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Say more on stderr.")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Trace HTTP on stderr (secrets and tokens redacted).")
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colour (also NO_COLOR=1).")
    ] = False,
    allow_http: Annotated[
        bool,
        typer.Option(
            "--allow-http",
            help="Allow plain http:// Knox URLs (base and token URL) to a remote host (also "
            "KNOXHOOK_ALLOW_HTTP=1): the secret then crosses unencrypted. For a callback URL: "
            "subscribe --allow-http-callback.",
        ),
    ] = False,
    timeout: Annotated[
        str | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="Seconds to wait on each connect/read of every request (also "
            "KNOXHOOK_TIMEOUT, or timeout in the profile; default 30).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    # The invocation main() made and passed in; the options it could only guess from
    # argv are now parsed.
    invocation = ctx.obj if isinstance(ctx.obj, Invocation) else context.current()
    if profile is not None:  # before any command: a bad name is never an empty profile
        from knoxhook.config import check_profile_name

        check_profile_name(profile, "--profile")
    seconds = None
    if timeout is not None:  # checked before any command runs: exit 2, not a hang
        from knoxhook.config import parse_timeout

        seconds = parse_timeout(timeout, "--timeout")
    invocation.set_globals(
        profile=profile,
        output=pick_format(json_output, output),
        verbose=verbose,
        debug=debug,
        no_color=no_color,
        allow_http=allow_http,
        timeout=seconds,
    )
    ctx.obj = invocation
    _show_notices(verbose or debug)


_lowered = False  # whether _show_notices set the knoxhook logger to INFO


def _show_notices(on: bool) -> None:
    """``--verbose``: the INFO lines of the ``knoxhook.*`` loggers on stderr (retries and
    their wait, token renewals, certificate downloads), one inert line each. The library
    only logs, and never a secret (its lines name methods, paths, statuses and times).
    The handler asks the current invocation, and a later run without --verbose in the
    same process (tests) puts the logger's level back, so it prints none of them (nor
    does ``listen``, whose log handler takes knoxhook's level: ``serving._log_to``)."""
    import logging

    global _lowered
    logger = logging.getLogger("knoxhook")
    if not on:
        if _lowered:
            logger.setLevel(logging.NOTSET)
            _lowered = False
        return

    from knoxhook.cli import display

    class Notices(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            invocation = context.current()
            if record.levelno < logging.WARNING and not (invocation.verbose or invocation.debug):
                return
            message = display.one_line(record.getMessage())
            (display.warn if record.levelno >= logging.WARNING else display.info)(message)

    if not any(type(h).__name__ == "Notices" for h in logger.handlers):
        logger.addHandler(Notices())
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
        _lowered = True


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; the one place that maps errors to messages and exit codes."""
    args = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get("_KNOXHOOK_COMPLETE"):  # a shell asks for completions: cli/completion.py
        from knoxhook.cli.completion import enable

        enable()
    invocation = Invocation.from_argv(args)  # the one context of this run
    with context.use(invocation):
        sys.exit(_run(args, invocation))


def _run(args: list[str], invocation: Invocation) -> int:
    """The exit code of ``knoxhook ARGS``, every error reported on the way."""
    try:
        rv = app(args=args, prog_name="knoxhook", standalone_mode=False, obj=invocation)
    except KnoxhookError as exc:
        report_error(exc.code, exc.message, exc.hint)
        return int(exc.exit_code)
    except NoArgsIsHelpError as exc:  # a bare `knoxhook` or `knoxhook auth`: its help
        invocation.env.stderr.write(exc.format_message() + "\n")
        return int(ExitCode.USAGE)
    except NoSuchOption as exc:
        report_error("usage_error", exc.format_message(), _misplaced_hint(exc, args))
        return int(ExitCode.USAGE)
    except ClickException as exc:
        report_error("usage_error", usage_message(exc), "see --help")
        return int(ExitCode.USAGE)
    except (KeyboardInterrupt, typer.Abort):
        report_error("interrupted", "interrupted", None)
        return int(ExitCode.INTERRUPTED)
    except SystemExit as exc:  # rich's answer to a closed stdout: cli/pipes.py
        if not pipes.reader_gone(exc):
            raise
        return pipes.stop_quietly()
    except Exception as exc:  # a bug: say so in one line, trace only with --debug
        if pipes.reader_gone(exc):  # `knoxhook ... | head -1`: cli/pipes.py
            return pipes.stop_quietly()
        if invocation.debug:
            import traceback

            traceback.print_exc(file=invocation.env.stderr)
        report_error(
            "unexpected_error",
            f"unexpected error: {type(exc).__name__}: {exc}",
            "run again with --debug and report it",
        )
        return int(ExitCode.UNEXPECTED)
    if rv == ExitCode.INTERRUPTED:  # typer turns Ctrl-C into Exit(130) before we see it
        report_error("interrupted", "interrupted", None)
    return rv if isinstance(rv, int) else 0


# Options of the root callback only (--json/--output exist on every data command too).
GLOBAL_ONLY_OPTIONS = frozenset(
    {"--profile", "-p", "--verbose", "-v", "--debug", "--no-color", "--timeout"}
)


def _misplaced_hint(exc: NoSuchOption, args: Sequence[str]) -> str:
    """A global option given after the command: say where it goes."""
    if exc.option_name not in GLOBAL_ONLY_OPTIONS:
        return "see --help"
    before = args[: args.index(exc.option_name)] if exc.option_name in args else []
    command = " ".join(a for a in before if not a.startswith("-"))[:60]
    return f"global options go before the command: knoxhook {exc.option_name} ... {command}"


def usage_message(exc: ClickException) -> str:
    """typer's message for a usage error, with a refused choice said plainly.

    typer says "Value error, 'xml' is not one of 'table', 'json', ..." (pydantic's words,
    and lower-cased choices for a case-insensitive option); knoxhook says "'xml' is not
    one of: table, json, yaml, ndjson." with the choices as documented.
    """
    message = str(getattr(exc, "message", ""))
    prefix, marker = "Value error, ", " is not one of "
    if message.startswith(prefix) and marker in message:
        value, _, listed = message[len(prefix) :].partition(marker)
        annotation = getattr(getattr(getattr(exc, "param", None), "type_descriptor", None),
                             "annotation", None)  # fmt: skip
        if isinstance(annotation, type) and issubclass(annotation, Enum):
            choices = ", ".join(str(c.value) for c in annotation)
        else:
            choices = ", ".join(c.strip().strip("'") for c in listed.rstrip(".").split(","))
        exc.message = f"{value} is not one of: {choices}."
    return exc.format_message()

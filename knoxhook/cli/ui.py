"""``knoxhook ui``: the interactive terminal UI (Textual, imported only when it runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from knoxhook.cli import checks, clients, context, registry
from knoxhook.errors import UsageError

ui_app = registry.command()


@ui_app.command("ui")
def ui(
    listen: Annotated[
        int | None,
        typer.Option(
            "--listen",
            metavar="PORT",
            help="Also run the callback receiver on PORT (0 picks a free one); "
            "callbacks appear live.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option("--host", metavar="HOST", help="Address the receiver binds with --listen."),
    ] = "127.0.0.1",
    path: Annotated[
        str,
        typer.Option("--path", metavar="PATH", help="URL path the receiver answers with --listen."),
    ] = "/",
    follow: Annotated[
        Path | None,
        typer.Option(
            "--follow",
            metavar="FILE.ndjson",
            help="Show the callbacks a `knoxhook listen --record FILE` writes, as they arrive.",
            show_default=False,
        ),
    ] = None,
    cert: Annotated[
        Path | None,
        typer.Option(
            "--cert",
            metavar="FILE",
            help="Validation certificate (PEM) for --listen and the status line "
            "[default: the stored one, downloaded when missing].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Open the terminal UI: subscriptions, the event catalogue, and live callbacks.

    Uses the current profile (same settings and credentials as the other commands).
    Views: 1 subscriptions (table + full JSON), 2 event catalogue (which events are
    free, which subscription holds each taken one; Enter goes to it), 3 callbacks.
    Keys: n new, e edit, d delete (asks first), r refresh, q quit; all are shown in the footer,
    and the mouse works too. NO_COLOR=1 or `knoxhook --no-color ui` gives a
    monochrome screen.

    Examples:

        knoxhook ui

        knoxhook ui --listen 8080        # then subscribe http://127.0.0.1:8080/

        knoxhook ui --follow callbacks.ndjson
    """
    if listen is not None and follow is not None:
        raise UsageError("give --listen or --follow, not both")
    if listen is not None:
        checks.check_port(listen, "--listen")
    # checked here, before the screen opens, so a typo is one line in the shell
    if not path.startswith("/"):
        raise UsageError(f"--path must start with '/': {path!r}")
    if follow is not None and not follow.parent.is_dir():
        raise UsageError(
            f"--follow {follow}: the directory {follow.parent} does not exist",
            hint="give the file `knoxhook listen --record FILE` writes (it may not exist yet)",
        )
    if cert is not None and not cert.is_file():
        raise UsageError(f"--cert {cert}: no such file")
    if not context.current().full_screen:
        raise UsageError(
            "knoxhook ui needs an interactive terminal",
            hint="in scripts use `knoxhook subscriptions list --json`",
        )
    from knoxhook.tui.run import UiOptions, run_ui

    options = UiOptions(
        listen=listen,
        host=host,
        path=path,
        follow=follow,
        cert=cert,
        no_color=context.current().no_color,
    )
    run_ui(checks.check_urls(clients.settings()), options)

"""``knoxhook doctor``: print the preflight of ``knoxhook.doctor``, one line per check."""

from __future__ import annotations

from typing import Annotated

import typer

from knoxhook.cli import clients, context, display, registry

doctor_app = registry.command()

MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


@doctor_app.command("doctor")
def doctor(
    min_days: Annotated[
        int,
        typer.Option(
            "--min-days",
            metavar="N",
            min=0,
            help="Warn when the certificate has fewer than N days left.",
        ),
    ] = 30,
    json_output: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """Check the setup end to end, one line per check, each failure with its fix.

    Checks that the profile resolves; where the client secret is found; that a token
    can be had; that the clock is within 60 s of the server's Date; the stored
    certificate's validity, expiry and pin; that each subscription's callback URL answers
    a forged callback with 4xx (as a verifying receiver does); and that no secret is in
    a world-readable file. Exits 0 when nothing failed (warnings included), else with
    the code of the first failure: 3 not configured (profile, secret, clock, file modes),
    4 credentials refused, 7 unreachable, 8 certificate invalid or a receiver that
    accepts forgeries.

    Examples:

    \b
      knoxhook doctor
      knoxhook --profile prod doctor --json
    """
    from knoxhook import doctor as checks

    fmt = context.output_format(json_output, output)
    settings = clients.settings()
    report = checks.run(settings, clients.http_options(settings), min_days=min_days)
    if fmt in (context.OutputFormat.TABLE,):
        out = context.current().env.stdout
        width = max(len(c.name) for c in report.checks)
        for check in report.checks:
            line = f"{MARKS[check.status]}  {check.name:<{width}}  {display.one_line(check.detail)}"
            if check.fix and check.status in ("fail", "warn"):
                line += f"\n      {'':<{width}}  fix: {display.one_line(check.fix)}"
            out.write(line + "\n")
        out.flush()
    else:
        display.emit(report.to_json(), fmt=fmt)
    if report.exit_code:
        failed = [c.name for c in report.checks if c.status == "fail"]
        from knoxhook.errors import KnoxhookError

        error = KnoxhookError(f"{len(failed)} check(s) failed: {', '.join(failed)}")
        error.exit_code = report.exit_code
        error.code = "doctor_failed"
        raise error

"""``knoxhook cert check``: the nightly check of the validation certificate.

Attached to the ``cert`` group by ``cli/cert.py`` (one line); the verdict itself is
``knoxhook.certcheck`` (pure), this module only finds the PEM and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from knoxhook.cli import clients, context, display

DEFAULT_MIN_DAYS = 30  # = knoxhook.certs.WARN_DAYS, the warning of `cert show`


def check(
    min_days: Annotated[
        int,
        typer.Option(
            "--min-days",
            metavar="N",
            help="Fail when fewer than N whole days are left.",
            min=0,
        ),
    ] = DEFAULT_MIN_DAYS,
    expect_pin: Annotated[
        list[str] | None,
        typer.Option(
            "--expect-pin",
            metavar="sha256//PIN",
            help="Fail unless the public-key pin is this one (repeat for a backup pin).",
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            metavar="FILE",
            help="Check this PEM file instead of the stored one ('-' reads stdin).",
        ),
    ] = None,
    remote: Annotated[
        bool,
        typer.Option("--remote", help="Check the certificate Knox serves now (not stored)."),
    ] = False,
    json_output: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """Check the stored validation certificate: still valid for N days, and the expected key.

    The nightly job. Exits 0 when it is valid for at least --min-days more days (30 by
    default) and, with --expect-pin, its public-key pin is one of those given; else exits
    8, with the verdict as the error code and as "status" in the JSON: expired,
    not_yet_valid, pin_mismatch (the key changed: not a renewal) or expires_soon. Exits 3
    when no certificate is stored (run `knoxhook cert fetch`).

    Examples:

    \b
      knoxhook cert check --min-days 14
      knoxhook cert check --expect-pin sha256//u3Fv...= --json
      knoxhook cert check --remote --min-days 30
    """
    from knoxhook import certcheck, certs
    from knoxhook.errors import UsageError

    fmt = context.output_format(json_output, output)
    pins = [certcheck.parse_pin(p) for p in expect_pin or ()]  # before any request
    if file is not None and remote:
        raise UsageError("--file and --remote are exclusive", hint="give one of them")
    if remote:
        settings = clients.settings()
        with clients.knox_client() as client:
            pem = certs.download(client)
        source = settings.base_url
    else:
        pem, source = read_pem(
            file, hint="run `knoxhook cert fetch` (or check what Knox serves: --remote)"
        )
    result = certcheck.check(certs.inspect_pem(pem), min_days=min_days, pins=pins)
    display.emit(result.to_json(source), fmt=fmt)
    error = result.error()
    if error is not None:
        raise error
    if fmt not in context.MACHINE_FORMATS:
        display.info(
            f"ok: valid for {result.info.days_left} more days"
            + (", the expected public key" if pins else "")
        )


def read_pem(file: Path | None, *, hint: str = "run `knoxhook cert fetch`") -> tuple[bytes, str]:
    """The certificate PEM of ``--file``, else the stored one, and where it came from
    (``cert show`` and ``cert check``); a usage error or "not configured" with ``hint``."""
    from knoxhook import certs
    from knoxhook.errors import NotConfiguredError, UsageError

    if file is not None and str(file) == "-":  # like `verify --body -`
        invocation = context.current()
        if invocation.stdin_is_terminal:
            display.info("reading the certificate (PEM) from stdin; end it with Ctrl-D")
        stdin = invocation.env.stdin
        buffer = getattr(stdin, "buffer", None)
        data = buffer.read() if buffer is not None else stdin.read().encode("utf-8")
        if not data.strip():
            raise UsageError("--file -: nothing on stdin", hint="pipe a PEM certificate in")
        return data, "stdin"
    if file is not None:
        try:
            return file.read_bytes(), str(file)
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from exc
    settings = clients.settings()
    stored = certs.read_stored(settings)
    if stored is None:
        raise NotConfiguredError(f"no certificate stored for {settings.base_url}", hint=hint)
    return stored, str(certs.stored_path(settings))

"""``knoxhook emulator fault|cert|deliveries|reset``: drive a running emulator (issue 9.6).

Every command finds the emulator as ``trigger`` does (``--emulator``, else
``KNOXHOOK_EMULATOR_URL``, else the profile's base URL, never a ``*.samsungknox.com``
host), sends the control token from ``KNOXHOOK_EMULATOR_TOKEN`` when one is set (an
emulator off loopback), and talks to it through ``EmulatorControls``, whose errors carry
the documented exit codes. Integration tests then need no hand-written curl JSON.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from knoxhook.cli import common, registry
from knoxhook.emulator import CONTROL_TOKEN_ENV, URL_ENV, CertAction
from knoxhook.errors import ApiError, UsageError

if TYPE_CHECKING:
    from knoxhook.emulator.controls import EmulatorControls

EmulatorOption = Annotated[
    str | None,
    typer.Option(
        "--emulator",
        metavar="URL",
        help=f"The emulator's base URL (default: {URL_ENV}, else the profile's base URL).",
        show_default=False,
    ),
]


def emulator_url(flag: str | None) -> str:
    """--emulator, else KNOXHOOK_EMULATOR_URL, else the current profile's base URL."""
    url = flag or os.environ.get(URL_ENV)
    if not url:
        from urllib.parse import urlsplit

        url = common.settings().base_url
        host = (urlsplit(url).hostname or "").lower()
        if host == "samsungknox.com" or host.endswith(".samsungknox.com"):
            # never post emulator control requests to the real Knox cloud
            raise UsageError(
                f"no emulator to ask: the profile's base URL {url} is the real Knox cloud",
                hint=f"pass --emulator URL (`knoxhook emulator run` prints it), or set {URL_ENV}",
            )
    return url.rstrip("/")


@contextmanager
def controls(flag: str | None, *, timeout: float = 60.0) -> Iterator[EmulatorControls]:
    """The controls of the emulator named by ``flag`` (see ``emulator_url``)."""
    from knoxhook.emulator.controls import EmulatorControls

    url = emulator_url(flag)
    token = os.environ.get(CONTROL_TOKEN_ENV, "").strip() or None  # off loopback only
    with common.http_options(timeout=timeout).client() as http:
        yield EmulatorControls(url, http, token=token)


# --- faults --------------------------------------------------------------------------------
FAULT_HELP: Final = (
    "Inject faults into the emulator's Knox API: statuses, delays, dropped connections.\n\n"
    "Examples:\n\n\b\n"
    "  knoxhook emulator fault add --path /kwn/v1/subscriptions --status 503 --count 2\n"
    "  knoxhook emulator fault list\n"
    "  knoxhook emulator fault clear"
)
FAULT_COLUMNS = [
    ("path", "path"),
    ("method", "method"),
    ("count", "left"),
    ("status", "status"),
    ("retry_after", "retry-after"),
    ("delay", "delay"),
    ("drop", "drop"),
    ("after", "after"),
]


def fault_add(
    path: Annotated[
        str,
        typer.Option(
            "--path", metavar="PATH", help="The path to fault, or an fnmatch pattern (from /)."
        ),
    ],
    status: Annotated[
        int | None,
        typer.Option("--status", metavar="CODE", help="Answer this status (429, 503, ...)."),
    ] = None,
    method: Annotated[
        str | None, typer.Option("--method", metavar="METHOD", help="Only this method.")
    ] = None,
    count: Annotated[
        int, typer.Option("--count", metavar="N", help="How many requests it hits.")
    ] = 1,
    retry_after: Annotated[
        float | None,
        typer.Option(
            "--retry-after",
            metavar="SECONDS",
            help="Send Retry-After (0..86400: more than a client waits, to test that path).",
        ),
    ] = None,
    delay: Annotated[
        float, typer.Option("--delay", metavar="SECONDS", help="Wait first (0..60).")
    ] = 0.0,
    drop: Annotated[
        bool, typer.Option("--drop", help="Close the connection without an answer.")
    ] = False,
    after: Annotated[
        bool,
        typer.Option("--after", help="Let the real handler run first (a create takes effect)."),
    ] = False,
    emulator: EmulatorOption = None,
    json_output: common.JsonOption = False,
    output: common.OutputOption = None,
) -> None:
    """Make the next requests matching --path fail, slow down or drop; show the pending faults.

    Needs one of --status, --drop or --delay. The emulator checks the fault and says
    precisely what is wrong (exit 2).

    Examples:

    \b
      knoxhook emulator fault add --path /kwn/v1/subscriptions --status 503 --count 2
      knoxhook emulator fault add --path /ams/v1/oauth2/token --status 429 --retry-after 120
      knoxhook emulator fault add --path '/kwn/v1/subscriptions*' --method POST --drop --after
    """
    fmt = common.output_format(json_output, output)
    common.require_text(path=path, method=method)
    spec: dict[str, Any] = {"path": path, "count": count, "delay": delay}
    spec.update(drop=drop, after=after)
    for name, value in (("status", status), ("method", method), ("retry_after", retry_after)):
        if value is not None:
            spec[name] = value
    with controls(emulator) as emu:
        try:
            pending = emu.add_fault(spec)
        except ApiError as exc:
            if exc.status != 400:
                raise
            raise UsageError(
                exc.message.replace("the emulator refused: ", "bad fault: ", 1),
                hint="see `knoxhook emulator fault add --help`",
            ) from None
    common.emit(pending, columns=FAULT_COLUMNS, fmt=fmt)


def fault_list(
    emulator: EmulatorOption = None,
    json_output: common.JsonOption = False,
    output: common.OutputOption = None,
) -> None:
    """Show the pending faults, the next one applied first.

    Example: knoxhook emulator fault list --json
    """
    fmt = common.output_format(json_output, output)
    with controls(emulator) as emu:
        common.emit(emu.faults(), columns=FAULT_COLUMNS, fmt=fmt)


def fault_clear(emulator: EmulatorOption = None) -> None:
    """Forget every pending fault.

    Example: knoxhook emulator fault clear
    """
    with controls(emulator) as emu:
        emu.clear_faults()
    common.info("no faults pending")


# --- the certificate ---------------------------------------------------------------------
CERT_HELP: Final = (
    "Re-issue the emulator's validation certificate: expire it, rotate it, or reset it.\n\n"
    "Examples:\n\n\b\n"
    "  knoxhook emulator cert expire\n"
    "  knoxhook emulator cert rotate --new-key\n"
    "  knoxhook emulator cert reset"
)


def _certificate(action: CertAction, emulator: str | None, fmt: common.OutputFormat) -> None:
    with controls(emulator) as emu:
        common.emit(emu.set_certificate(action), fmt=fmt)


def cert_expire(
    emulator: EmulatorOption = None,
    json_output: common.JsonOption = False,
    output: common.OutputOption = None,
) -> None:
    """Serve a certificate that expired yesterday (same key); show it.

    Example: knoxhook emulator cert expire --json
    """
    _certificate(CertAction.EXPIRED, emulator, common.output_format(json_output, output))


def cert_rotate(
    new_key: Annotated[
        bool,
        typer.Option(
            "--new-key",
            help="Change the key too: callbacks signed before stop verifying. Default: "
            "the same key with a new certificate, as Samsung did in 2024.",
        ),
    ] = False,
    emulator: EmulatorOption = None,
    json_output: common.JsonOption = False,
    output: common.OutputOption = None,
) -> None:
    """Serve a new certificate (same key, or --new-key); show it.

    Examples:

    \b
      knoxhook emulator cert rotate
      knoxhook emulator cert rotate --new-key --json
    """
    action = CertAction.ROTATE_NEW_KEY if new_key else CertAction.ROTATE_SAME_KEY
    _certificate(action, emulator, common.output_format(json_output, output))


def cert_reset(
    emulator: EmulatorOption = None,
    json_output: common.JsonOption = False,
    output: common.OutputOption = None,
) -> None:
    """Serve a fresh valid certificate with the same key; show it.

    Example: knoxhook emulator cert reset
    """
    _certificate(CertAction.VALID, emulator, common.output_format(json_output, output))


# --- deliveries and state ----------------------------------------------------------------------
DELIVERY_COLUMNS = [
    ("id", "id"),
    ("event", "event"),
    ("status", "status"),
    ("httpStatus", "http"),
    ("attempts", "attempts"),
    ("signing", "signing"),
    ("url", "url"),
    ("createdAt", "created"),
]


def deliveries(
    emulator: EmulatorOption = None,
    json_output: common.JsonOption = False,
    output: common.OutputOption = None,
) -> None:
    """Show the callbacks the emulator sent (the newest 1000), oldest first.

    JSON: the records `knoxhook trigger` prints, in a list.

    Example: knoxhook emulator deliveries --json
    """
    fmt = common.output_format(json_output, output)
    with controls(emulator) as emu:
        common.emit(emu.deliveries(), columns=DELIVERY_COLUMNS, fmt=fmt)


def reset(emulator: EmulatorOption = None) -> None:
    """Forget subscriptions, tokens, deliveries, faults and counters (not the certificate).

    Example: knoxhook emulator reset --emulator http://127.0.0.1:8765
    """
    with controls(emulator) as emu:
        emu.reset()
    common.info(f"the emulator at {emu.base_url} is reset")


def attach(emulator_app: typer.Typer) -> None:
    """Add these commands to the ``knoxhook emulator`` group (built here, not at import,
    so that the group of ``cli/emulator.py`` stays the only typer app the registry lists)."""
    fault = registry.group("fault", FAULT_HELP)
    fault.command("add")(fault_add)
    fault.command("list")(fault_list)
    fault.command("clear")(fault_clear)
    cert = registry.group("cert", CERT_HELP)
    cert.command("expire")(cert_expire)
    cert.command("rotate")(cert_rotate)
    cert.command("reset")(cert_reset)
    emulator_app.add_typer(fault)
    emulator_app.add_typer(cert)
    emulator_app.command("deliveries")(deliveries)
    emulator_app.command("reset")(reset)

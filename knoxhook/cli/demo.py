"""``knoxhook demo``: the whole Knox workflow on the embedded emulator."""

from __future__ import annotations

import sys
from contextlib import closing
from typing import Annotated, Any

import typer

from knoxhook.cli import common, registry
from knoxhook.emulator import DEFAULT_SIGNING, SIGNING_HELP, SigningMode

demo_app = registry.command()


@demo_app.command("demo")
def demo(
    signing: Annotated[
        SigningMode,
        typer.Option(
            "--signing",
            help=f"How the emulator signs callbacks. {SIGNING_HELP}.",
            case_sensitive=False,
        ),
    ] = DEFAULT_SIGNING,
    auth: Annotated[
        str,
        typer.Option(
            "--auth",
            metavar="oauth|legacy",
            help="OAuth 2.0 (default), or legacy: Knox Guard's keys.json + Client Identifier "
            "(the emulator's demo legacy client) and KG_DEVICE_LOCKED.",
        ),
    ] = "oauth",
    json_output: common.JsonOption = False,
    output: common.OutputOption = None,
) -> None:
    """Run the whole Knox webhook workflow on the embedded Knox emulator.

    Starts the emulator and a callback receiver on free 127.0.0.1 ports, with a
    temporary config and cache (your real ones, and your keyring, are not touched), then:
    download the validation certificate -> get an OAuth 2.0 token -> subscribe to
    KDMS_DEVICE_UPLOAD -> Knox sends the signed callback -> its signature is verified ->
    the same callback is replayed and refused -> list -> delete.

    Needs no Knox account and no network beyond loopback. A closed stdout (`| head -1`)
    stops it quietly with exit 0, the emulator and the receiver stopped (as every command).

    Examples:

    \b
      knoxhook demo
      knoxhook demo --signing samsung-reserialized --json
      knoxhook demo --auth legacy

    JSON: {"ok": true, "steps": [{"step", "title", "ok", ...details}]};
    --output ndjson prints one step per line as it completes.
    """
    from knoxhook.cli.context import NO_TSV_FORMATS
    from knoxhook.demo import run_demo

    fmt = common.output_format(json_output, output, supports=NO_TSV_FORMATS)
    steps: list[dict[str, Any]] = []
    if auth not in ("oauth", "legacy"):
        from knoxhook.errors import UsageError

        raise UsageError(f"--auth must be oauth or legacy, not {auth!r}")
    # closing(): whatever stops the printing (a closed stdout, Ctrl-C) stops the emulator
    # and the receiver right here, not whenever the generator is collected.
    with closing(run_demo(signing=signing, auth=auth)) as workflow:
        for step in workflow:
            record = step.to_json()
            steps.append(record)
            if fmt is common.OutputFormat.NDJSON:
                common.emit(record, fmt=fmt)
            elif fmt is common.OutputFormat.TABLE:
                _show(len(steps), step.title, step.detail)
    if fmt in (common.OutputFormat.JSON, common.OutputFormat.YAML):
        common.emit({"ok": True, "steps": steps}, fmt=fmt)
    elif fmt is common.OutputFormat.TABLE:
        common.console().print(
            "\n[bold green]Done.[/bold green] Every step behaved as Knox documents. Next: "
            "[bold]knoxhook auth login[/bold] with your Knox credentials, or run the "
            "emulator yourself: [bold]knoxhook emulator run[/bold]."
        )


# Details worth a line under each step, in the order shown.
_SHOWN = (
    "base_url",
    "signing",
    "subject",
    "not_after",
    "spki_sha256",
    "expires_in",
    "cache_mode",
    "url",
    "subscriptionId",
    "events",
    "nonce",
    "form",
    "status",
    "reason",
    "remaining",
)


def _show(number: int, title: str, detail: dict[str, Any]) -> None:
    from rich.markup import escape

    out = common.console()
    mark = "[green]✔[/green]" if out.color_system and _utf8() else "ok"
    out.print(f"{mark} [bold]{number:>2}. {escape(title)}[/bold]")
    for key in _SHOWN:
        if key in detail and detail[key] is not None:
            value = detail[key]
            text = ", ".join(value) if isinstance(value, list) else str(value)
            out.print(f"      [dim]{key}:[/dim] {escape(text)}")


def _utf8() -> bool:
    return (getattr(sys.stdout, "encoding", "") or "").lower().startswith("utf")

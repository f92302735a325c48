"""``knoxhook trigger``: ask the emulator to deliver an event callback."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from knoxhook.cli import common, registry
from knoxhook.emulator import CONTROL_TOKEN_ENV, SIGNING_HELP, SigningMode
from knoxhook.errors import TransportError, UsageError

EMULATOR_URL_ENV = "KNOXHOOK_EMULATOR_URL"


def _payload(source: str | None) -> dict[str, Any] | None:
    if source is None:
        return None
    if source == "-" and sys.stdin.isatty():  # else it looks like a hang
        common.info("reading the payload from the terminal; end it with Ctrl-D")
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the payload file {source}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"the payload file {source} is not UTF-8 text") from None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"the payload in {source} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"the payload in {source} must be a JSON object")
    return value


def _emulator_url(flag: str | None) -> str:
    """--emulator, else KNOXHOOK_EMULATOR_URL, else the current profile's base URL."""
    url = flag or os.environ.get(EMULATOR_URL_ENV)
    if not url:
        from urllib.parse import urlsplit

        url = common.settings().base_url
        host = (urlsplit(url).hostname or "").lower()
        if host == "samsungknox.com" or host.endswith(".samsungknox.com"):
            # never post emulator control requests to the real Knox cloud
            raise UsageError(
                f"no emulator to ask: the profile's base URL {url} is the real Knox cloud",
                hint="pass --emulator URL (`knoxhook emulator run` prints it), or set "
                f"{EMULATOR_URL_ENV}",
            )
    return url.rstrip("/")


def _deliver(url: str, body: dict[str, Any]) -> dict[str, Any]:
    from knoxhook.emulator.controls import EmulatorControls

    token = os.environ.get(CONTROL_TOKEN_ENV, "").strip() or None  # off loopback only
    with common.http_options(timeout=120.0).client() as http:
        return EmulatorControls(url, http, token=token).trigger(**body)


trigger_app = registry.command()


@trigger_app.command("trigger")
def trigger(
    event: Annotated[
        str,
        typer.Argument(metavar="EVENT", help="The event to deliver, e.g. KDMS_DEVICE_UPLOAD."),
    ],
    payload: Annotated[
        str | None,
        typer.Option(
            "--payload",
            metavar="FILE",
            help="A JSON file with the event payload ('-' reads stdin); default: a "
            "realistic example for the event.",
            show_default=False,
        ),
    ] = None,
    trace_id: Annotated[
        str | None,
        typer.Option(
            "--trace-id", metavar="ID", help="The X-WSM-TRACEID to send.", show_default=False
        ),
    ] = None,
    signing: Annotated[
        SigningMode | None,
        typer.Option(
            "--signing",
            help="Sign this callback in another mode than the emulator's --signing. "
            f"{SIGNING_HELP}.",
            show_default=False,
        ),
    ] = None,
    emulator: Annotated[
        str | None,
        typer.Option(
            "--emulator",
            metavar="URL",
            help=f"The emulator's base URL (default: {EMULATOR_URL_ENV}, else the "
            "profile's base URL).",
            show_default=False,
        ),
    ] = None,
    json_output: common.JsonOption = False,
    output: common.OutputOption = None,
) -> None:
    """Make the Knox emulator deliver a signed EVENT callback, and show the delivery.

    The emulator sends it to the subscription that holds the event, signed like Knox
    (X-WSM-SIGNATURE, X-WSM-TRACEID, x-knox-nonce), with retries. Exits 6 when no
    subscription holds the event, 7 when the callback could not be delivered. For an
    emulator off loopback, set KNOXHOOK_EMULATOR_TOKEN to its control token.

    Examples:

    \b
      knoxhook trigger KDMS_DEVICE_UPLOAD --emulator http://127.0.0.1:8765
      knoxhook trigger KG_DEVICE_LOCKED --payload locked.json --trace-id run-42 --json
      knoxhook trigger KDMS_DEVICE_UPLOAD --signing detached
      echo '{"deviceUid": "u-1"}' | knoxhook trigger KG_DEVICE_ENROLLED --payload -

    JSON: {id, event, subscriptionId, url, traceId, nonce, signing, status,
    httpStatus, attempts, latencyMs, error, createdAt}.
    """
    from knoxhook import events

    name = event.strip().upper()
    if events.get(name) is None:
        close = events.closest(name)
        raise UsageError(
            f"unknown event {event!r}" + (f"; did you mean {', '.join(close)}?" if close else ""),
            hint="`knoxhook events` lists them",
        )
    fmt = common.output_format(json_output, output)
    common.require_text(trace_id=trace_id)
    body: dict[str, Any] = {
        "event": name,
        "payload": _payload(payload),
        "trace_id": trace_id,
        "signing": signing,
    }
    record = _deliver(_emulator_url(emulator), body)
    common.emit(record, fmt=fmt)
    if record.get("status") != "delivered":
        raise TransportError(
            f"the callback to {record.get('url')} failed after {record.get('attempts')} "
            f"attempt(s): {record.get('error')}",
            hint="is the receiver running? (knoxhook listen)"
            if record.get("httpStatus") is None
            else "the receiver answered but refused it: check the subscription's URL path "
            "and the receiver's log",
        )

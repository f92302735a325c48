"""``knoxhook trigger``: ask the emulator to deliver an event callback."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from knoxhook.cli import common, context, registry
from knoxhook.cli.emulator_controls import EmulatorOption, controls
from knoxhook.emulator import SIGNING_HELP, TRACE_ID_PATTERN, SigningMode
from knoxhook.errors import ApiError, KnoxhookError, TransportError, UsageError


def _payload(source: str | None) -> dict[str, Any] | None:
    if source is None:
        return None
    if source == "-" and context.current().stdin_is_terminal:  # else it looks like a hang
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
    emulator: EmulatorOption = None,
    json_output: common.JsonOption = False,
    output: common.OutputOption = None,
) -> None:
    """Make the Knox emulator deliver a signed EVENT callback, and show the delivery.

    The emulator sends it to the subscription that holds the event, signed like Knox
    (X-WSM-SIGNATURE, X-WSM-TRACEID, x-knox-nonce), with retries. Exits 6 when no
    subscription holds the event, 5 when the receiver refused it (4xx: its status and
    reason are shown), 7 when it could not be delivered (no answer, 5xx). For an
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
        raise UsageError(
            events.unknown_events_message([event]),
            hint="`knoxhook events` lists them",
        )
    fmt = common.output_format(json_output, output)
    common.require_text(trace_id=trace_id)
    if trace_id is not None and not re.fullmatch(TRACE_ID_PATTERN, trace_id):
        raise UsageError(
            f"--trace-id {trace_id!r} cannot be sent as the X-WSM-TRACEID header"
            + (": it is empty (leave the option out for a random one)" if not trace_id else ""),
            hint="use printable ASCII, 1 to 256 characters, no space at either end",
        )
    body: dict[str, Any] = {
        "event": name,
        "payload": _payload(payload),
        "trace_id": trace_id,
        "signing": signing,
    }
    with controls(emulator, timeout=120.0) as emu:
        record = emu.trigger(**body)
    common.emit(record, fmt=fmt)
    if record.get("status") != "delivered":
        raise _not_delivered(record)


def _not_delivered(record: dict[str, Any]) -> KnoxhookError:
    """Why the callback was not delivered: the receiver's own answer when it gave one
    (a 4xx is a refusal, exit 5, not a network error), else what kept it from answering."""
    url, attempts, status = record.get("url"), record.get("attempts"), record.get("httpStatus")
    message = f"the callback to {url} failed after {attempts} attempt(s): {record.get('error')}"
    if isinstance(status, int) and 400 <= status < 500:
        refused = ApiError(
            message,
            status=status,
            hint="the receiver refused it: check the subscription's URL path, the "
            "receiver's certificate (`knoxhook cert fetch`) and its log",
        )
        refused.code = "callback_refused"
        return refused
    if attempts == 0:  # refused before sending: not a loopback address
        hint = "subscribe a loopback URL, or start the emulator with --allow-remote-delivery"
    elif status is None:
        hint = "is the receiver running? (knoxhook listen)"
    else:
        hint = "the receiver failed (5xx): check its log; Knox would resend later"
    return TransportError(message, status=status if isinstance(status, int) else None, hint=hint)

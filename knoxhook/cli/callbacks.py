"""``knoxhook callbacks list|show|retry|drop|replay``: the outbox of ``listen
--forward-to`` (its dead letters and pending callbacks), and re-sending recorded ones."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from knoxhook.cli import callbacks_send, checks, context, display, registry

if TYPE_CHECKING:
    from knoxhook.receiver.handoff.outbox import Outbox, Row

callbacks_app = registry.group(
    "callbacks",
    "Inspect, retry and drop the callbacks in listen's outbox; replay recorded ones.\n\n"
    "`listen --forward-to URL` keeps every accepted callback in an outbox (a SQLite "
    "file) until your app takes it; the ones it refused (4xx) or that ran out of "
    "retries are dead letters. `retry` queues them again: the running listen (or its "
    "next start) delivers them within a second. Exit codes: 0 ok, 2 usage error, 6 no "
    "such callback, 7 a replayed callback was not taken.\n\n"
    "Examples:\n\n\b\n"
    "  knoxhook callbacks list --dead\n"
    "  knoxhook callbacks show 42 --json\n"
    "  knoxhook callbacks retry --all\n"
    "  knoxhook callbacks drop 42 --yes\n"
    "  knoxhook callbacks replay --record callbacks.ndjson --since 2h "
    "--to http://127.0.0.1:3000/knox",
)

OutboxOption = Annotated[
    Path | None,
    typer.Option(
        "--outbox",
        metavar="FILE",
        help="listen's outbox (default: outbox.sqlite3 in the cache dir).",
        show_default=False,
    ),
]
IdsArgument = Annotated[
    list[int] | None, typer.Argument(metavar="[ID]...", help="Outbox ids (see `list`).")
]
AllOption = Annotated[bool, typer.Option("--all", help="Every dead letter.")]
COLUMNS = [
    ("id", "ID"),
    ("state", "State"),
    ("event", "Event"),
    ("nonce", "Nonce"),
    ("attempts", "Attempts"),
    ("last_status", "Last status"),
    ("dead_reason", "Why dead"),
    ("received_at", "Received"),
]


def _open(path: Path | None) -> Outbox:
    from knoxhook.cli.listen_handoff import default_outbox, open_outbox
    from knoxhook.errors import UsageError

    where = path or default_outbox()
    checks.require_text(outbox=str(where))
    if not where.is_file():
        raise UsageError(
            f"no outbox at {where}",
            hint="`listen --forward-to URL` creates it; give listen's --outbox FILE",
        )
    outbox: Outbox = open_outbox(where)
    return outbox


def _found(outbox: Outbox, ids: list[int]) -> list[Row]:
    """The rows ``ids`` that are pending or dead; NotFoundError naming the others."""
    from knoxhook.errors import NotFoundError

    rows = [outbox.get(i) for i in ids]
    missing = [
        i for i, row in zip(ids, rows, strict=True) if row is None or row.state == "delivered"
    ]
    if missing:
        raise NotFoundError(
            f"no pending or dead callback {', '.join(f'#{i}' for i in missing)} in {outbox.path}",
            hint="see the ids with `knoxhook callbacks list`",
        )
    return [row for row in rows if row is not None]


def _ids(ids: list[int] | None, all_: bool) -> list[int] | None:
    from knoxhook.errors import UsageError

    if all_ and ids:
        raise UsageError("give ids or --all, not both")
    if not all_ and not ids:
        raise UsageError("give the ids (see `knoxhook callbacks list`), or --all")
    return None if all_ else list(ids or [])


@callbacks_app.command("list")
def list_(
    dead: Annotated[bool, typer.Option("--dead", help="Only the dead letters.")] = False,
    outbox: OutboxOption = None,
    json_output: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """List the pending callbacks and dead letters in the outbox (oldest first).

    JSON: a list of {id, state (pending|dead), nonce, event, subscriptionId,
    received_at, attempts, next_at, last_status, last_error, dead_reason}.

    Examples:

    \b
      knoxhook callbacks list
      knoxhook callbacks list --dead --json
    """
    fmt = context.output_format(json_output, output)
    box = _open(outbox)
    try:
        rows = box.rows(("dead",) if dead else ("pending", "dead"))
    finally:
        box.close()
    display.emit([row.summary() for row in rows], columns=COLUMNS, fmt=fmt)


@callbacks_app.command("show")
def show(
    row_id: Annotated[int, typer.Argument(metavar="ID", help="Outbox id (see `list`).")],
    outbox: OutboxOption = None,
    json_output: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """Show one callback of the outbox: its state, attempts, headers and body.

    JSON: the keys of `list`, plus headers (what is sent to your app) and body
    (text; body_base64 too when it is not UTF-8).

    Example:

    \b
      knoxhook callbacks show 42 --json
    """
    fmt = context.output_format(json_output, output)
    box = _open(outbox)
    try:
        (row,) = _found(box, [row_id])
    finally:
        box.close()
    data: dict[str, Any] = {**row.summary(), "headers": row.headers}
    body = row.body or b""
    data["body"] = body.decode("utf-8", "replace")
    if data["body"].encode("utf-8") != body:
        data["body_base64"] = base64.b64encode(body).decode("ascii")
    display.emit(data, fmt=fmt)


@callbacks_app.command("retry")
def retry(
    ids: IdsArgument = None,
    all_: AllOption = False,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="URL",
            help="Deliver them from here, now, to this URL (your app moved) instead.",
            show_default=False,
        ),
    ] = None,
    outbox: OutboxOption = None,
    json_output: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """Queue dead letters (or pending callbacks) for delivery now, with a new retry budget.

    The running `listen --forward-to` on this outbox delivers them within a second;
    when none runs, its next start does. JSON: {"requeued": N, "ids": [...]}.

    With --to URL (your app moved), knoxhook posts each one itself, once, to URL,
    with the bytes and headers listen sends (Knox's signature, trace id and nonce,
    Idempotency-Key: the nonce). A letter URL takes (2xx) is delivered: it leaves
    the outbox's dead and pending ones, and listen never sends it again. One that
    fails again (no answer, or not 2xx) is kept: a dead letter stays dead, with this
    answer as its last status and error; a pending one stays pending for listen's
    own --forward-to. JSON: {"delivered": N, "failed": N, "results": [{id, nonce,
    event, outcome (delivered|dead|pending|busy), status, error}]}. Exit 7 when any
    was not delivered; retrying again is safe (the app dedupes on Idempotency-Key).

    Examples:

    \b
      knoxhook callbacks retry 42 43
      knoxhook callbacks retry --all --json
      knoxhook callbacks retry --all --to https://app.example.com/knox  # the app moved
    """
    import time

    fmt = context.output_format(json_output, output)
    wanted = _ids(ids, all_)
    if to is not None:
        _check_to(to)
    box = _open(outbox)
    try:
        chosen = [r.id for r in box.rows(("dead",))] if wanted is None else wanted
        _found(box, chosen)
        if to is not None:
            _deliver_to(box, chosen, to, fmt)
            return
        count = box.requeue(chosen, time.time())
    finally:
        box.close()
    if fmt is context.OutputFormat.TABLE:
        display.info(f"requeued {count}: listen --forward-to on this outbox delivers them")
    else:
        display.emit({"requeued": count, "ids": chosen}, fmt=fmt)


def _deliver_to(box: Outbox, ids: list[int], to: str, fmt: context.OutputFormat) -> None:
    """``retry --to``: post ``ids`` to ``to`` now (``callbacks_send.redeliver``)."""
    import asyncio

    from knoxhook.errors import TransportError
    from knoxhook.httptrace import redact_url

    shown = redact_url(to)
    results = asyncio.run(callbacks_send.redeliver(box, ids, to))
    failed = [r for r in results if r["outcome"] != "delivered"]
    if fmt is context.OutputFormat.TABLE:
        for r in results:
            answer = r["status"] if r["status"] is not None else r["error"]
            display.info(f"#{r['id']} {r['event']} nonce={r['nonce']} -> {answer}: {r['outcome']}")
        display.info(f"delivered {len(results) - len(failed)} of {len(results)} to {shown}")
    else:
        delivered = len(results) - len(failed)
        display.emit({"delivered": delivered, "failed": len(failed), "results": results}, fmt=fmt)
    if failed:
        raise TransportError(
            f"{len(failed)} of {len(results)} callbacks were not delivered to {shown}; "
            "they stay in the outbox",
            hint="is the app up at that URL? retrying again is safe: it dedupes on Idempotency-Key",
        )


def _check_to(url: str) -> None:
    from knoxhook.errors import UsageError

    checks.require_text(to=url)
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--to must be an http(s) URL: {url!r}")


@callbacks_app.command("drop")
def drop(
    ids: IdsArgument = None,
    all_: AllOption = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    outbox: OutboxOption = None,
    json_output: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """Delete dead letters (or pending callbacks) from the outbox, for good.

    Asks on a terminal; elsewhere it needs --yes. JSON: {"dropped": N, "ids": [...]}.

    Examples:

    \b
      knoxhook callbacks drop 42
      knoxhook callbacks drop --all --yes
    """
    from knoxhook.errors import UsageError

    fmt = context.output_format(json_output, output)
    wanted = _ids(ids, all_)
    if not yes and not context.current().may_prompt:
        raise UsageError(
            "refusing to drop callbacks without confirmation: not a terminal",
            hint="pass --yes to drop them without asking",
        )
    box = _open(outbox)
    try:
        chosen = [r.id for r in box.rows(("dead",))] if wanted is None else wanted
        _found(box, chosen)
        if chosen and not yes and not display.confirm(f"Drop {len(chosen)} callback(s)?"):
            display.info("cancelled: nothing dropped")
            return
        count = box.drop(chosen)
    finally:
        box.close()
    if fmt is context.OutputFormat.TABLE:
        display.info(f"dropped {count}")
    else:
        display.emit({"dropped": count, "ids": chosen}, fmt=fmt)


@callbacks_app.command("replay")
def replay(
    record: Annotated[
        Path,
        typer.Option("--record", metavar="FILE.ndjson", help="listen's --record file."),
    ],
    to: Annotated[str, typer.Option("--to", metavar="URL", help="Your app's URL (http or https).")],
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="TIME",
            help="Only callbacks received since: RFC 3339, or 30m, 2h, 7d ago.",
            show_default=False,
        ),
    ] = None,
    event: Annotated[
        list[str] | None,
        typer.Option("--event", "-e", metavar="EVENT", help="Only this event; repeat for several."),
    ] = None,
    json_output: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """Send recorded callbacks to your app again, with their original bytes and headers.

    Like Stripe's `events resend`: each callback listen accepted (verdict accepted
    in --record) is POSTed, one at a time in the order received, with the body
    kept and the headers listen's --forward-to sends (Knox's signature, trace id
    and nonce, Idempotency-Key: the nonce) plus X-Knoxhook-Replay: 1. Your app
    dedupes on Idempotency-Key. JSON: {"sent", "failed", "results": [{nonce, event,
    received_at, status, error}]}. Exit 7 when any was not taken (no answer, or
    not 2xx).

    Examples:

    \b
      knoxhook callbacks replay --record callbacks.ndjson --to http://127.0.0.1:3000/knox
      knoxhook callbacks replay --record r.ndjson --since 2h -e KDMS_DEVICE_UPLOAD --to URL
    """
    import asyncio

    from knoxhook.errors import TransportError
    from knoxhook.httptrace import redact_url

    fmt = context.output_format(json_output, output)
    checks.require_text(record=str(record), since=since, event=event)
    _check_to(to)
    chosen = callbacks_send.recorded(record, callbacks_send.since(since), list(event or []))
    results = asyncio.run(callbacks_send.replay(chosen, to))
    shown = redact_url(to)
    failed = [r for r in results if r["status"] is None or not 200 <= r["status"] < 300]
    if fmt is context.OutputFormat.TABLE:
        for r in results:
            answer = r["status"] if r["status"] is not None else r["error"]
            display.info(f"{r['received_at']} {r['event']} nonce={r['nonce']} -> {answer}")
        display.info(f"replayed {len(results) - len(failed)} of {len(results)} to {shown}")
    else:
        display.emit({"sent": len(results), "failed": len(failed), "results": results}, fmt=fmt)
    if failed:
        raise TransportError(
            f"{len(failed)} of {len(results)} replayed callbacks were not taken by {shown}",
            hint="is the app up? replaying again is safe: it dedupes on Idempotency-Key",
        )

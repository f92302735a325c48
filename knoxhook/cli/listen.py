"""``knoxhook listen``: a callback receiver that verifies, records and forwards."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from knoxhook.cli import common, registry
from knoxhook.cli.verify import CertOption, cert_hint, open_nonce_db

if TYPE_CHECKING:
    from knoxhook.receiver.app import Verdict

DEFAULT_NONCE_DB = "nonces.sqlite3"  # in the cache dir


def _line(verdict: Verdict) -> str:
    """One human line for a verdict (rich markup; every value from the wire escaped)."""
    from rich.markup import escape

    def e(value: object) -> str:
        return escape(str(value))

    time = verdict.received_at[11:19]
    if verdict.accepted:
        text = (
            f"{time} [green]accepted[/green] {e(verdict.event)} "
            f"subscription={e(verdict.subscription_id)} nonce={e(verdict.nonce)} "
            f"form={e(verdict.form)}"
        )
    else:
        text = (
            f"{time} [red]rejected {verdict.status}[/red] {e(verdict.reason)}: {e(verdict.message)}"
        )
    if verdict.forward is not None:
        forward = verdict.forward
        status = forward["status"] if forward["status"] is not None else forward["error"]
        text += f" -> app {e(status)}"
        if verdict.status >= 500:
            text += f" [red](answered {verdict.status}: a resend will be accepted)[/red]"
    return text


class Printer:
    """Prints one line per callback (JSON lines with --json) and keeps the counts."""

    def __init__(self, fmt: common.OutputFormat) -> None:
        self.json = fmt in (common.OutputFormat.JSON, common.OutputFormat.NDJSON)
        self.counts = {"accepted": 0, "rejected": 0}
        self._lock = threading.Lock()
        self._console = None if self.json else common.console()

    def event(self, kind: str, **fields: Any) -> None:
        if self.json:
            self._write(json.dumps({"kind": kind, **fields}, ensure_ascii=False))

    def __call__(self, verdict: Verdict) -> None:
        with self._lock:
            self.counts[verdict.verdict] += 1
        if verdict.rotation is not None:
            rotation = verdict.rotation
            common.info(
                f"certificate refreshed after a failed signature: old {rotation['old']} -> "
                f"new {rotation['new'] or rotation.get('error')}"
            )
        if self.json:
            self.event("callback", **verdict.to_json())
        elif self._console is not None:
            with self._lock:
                self._console.print(_line(verdict), markup=True, highlight=False)
                sys.stdout.flush()

    def _write(self, line: str) -> None:
        with self._lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


def _nonce_store(path: Path | None, window: float) -> Any:
    from knoxhook.config import cache_dir
    from knoxhook.receiver.nonces import MemoryNonceStore

    if path is not None and str(path) == ":memory:":
        return MemoryNonceStore(window)
    return open_nonce_db(path or cache_dir() / DEFAULT_NONCE_DB, window)


def _recorder(path: Path) -> Any:
    from knoxhook.errors import UsageError
    from knoxhook.receiver.recorder import NdjsonRecorder

    try:
        return NdjsonRecorder(path)
    except OSError as exc:
        raise UsageError(
            f"--record {path}: cannot append to it ({exc.strerror or exc})",
            hint="give a writable file path (it is created 0600)",
        ) from exc


listen_app = registry.command()


@listen_app.command("listen")
def listen(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0 picks a free one).")] = 8000,
    path: Annotated[str, typer.Option("--path", help="URL path Knox posts to.")] = "/",
    record: Annotated[
        Path | None,
        typer.Option(
            "--record",
            metavar="FILE.ndjson",
            help="Append every callback (accepted or not) to this NDJSON file (0600).",
            show_default=False,
        ),
    ] = None,
    nonce_db: Annotated[
        Path | None,
        typer.Option(
            "--nonce-db",
            metavar="FILE",
            help="SQLite replay store (default: nonces.sqlite3 in the cache dir; "
            ":memory: for none kept).",
            show_default=False,
        ),
    ] = None,
    nonce_window: Annotated[
        float,
        typer.Option("--nonce-window", metavar="SECONDS", help="How long a nonce is remembered."),
    ] = 7 * 24 * 3600.0,
    cert: CertOption = None,
    forward_to: Annotated[
        str | None,
        typer.Option(
            "--forward-to",
            metavar="URL",
            help="POST each accepted callback (same body and headers) to your app.",
            show_default=False,
        ),
    ] = None,
    json_output: common.JsonOption = False,
    output: common.OutputOption = None,
) -> None:
    """Receive Knox callbacks: verify each one, refuse forgeries and replays.

    Answers 200 only to a callback whose signature verifies with the trusted
    certificate and whose nonce is new; 400 (409 for a replay, 413 too large) with
    {"status": "rejected", "reason", "message"} otherwise. Nonces are kept in a
    SQLite file, so a replay is refused also after a restart. Prints one line per
    callback (JSON lines with --json: {"kind": "listening"|"callback", ...}); Ctrl-C
    stops. Without --cert it uses the stored Knox certificate (fetched when missing
    or expired) and re-downloads it once when a signature fails (rotation).

    Examples:

    \b
      knoxhook listen --port 8000 --record callbacks.ndjson
      knoxhook listen --cert knox.pem --forward-to http://127.0.0.1:3000/knox --json
    """
    from knoxhook.errors import UsageError
    from knoxhook.receiver.app import StaticCertificates, create_receiver
    from knoxhook.receiver.certificates import StoredCertificates, load_certificate_files
    from knoxhook.serving import serve_in_thread

    fmt = common.output_format(json_output, output)
    common.require_text(path=path, forward_to=forward_to)
    if not path.startswith("/"):
        raise UsageError(f"--path must start with '/': {path!r}")
    if forward_to is not None and not forward_to.startswith(("http://", "https://")):
        raise UsageError(f"--forward-to must be an http(s) URL: {forward_to!r}")
    if not nonce_window > 0:  # also NaN, which would make every nonce a "replay"
        raise UsageError(f"--nonce-window must be a positive number of seconds: {nonce_window}")
    common.check_port(port)
    provider: Any
    if cert:
        provider = StaticCertificates(load_certificate_files(cert))
    else:
        with cert_hint():
            provider = StoredCertificates(common.settings())
    store = _nonce_store(nonce_db, nonce_window)
    recorder = _recorder(record) if record is not None else None
    printer = Printer(fmt)
    app = create_receiver(
        provider,
        path=path,
        nonce_store=store,
        recorder=recorder,
        forward_to=forward_to,
        on_callback=printer,
    )
    stop = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if in_main else None
    try:
        with serve_in_thread(app, host, port) as server:
            url = server.base_url + path
            printer.event("listening", url=url)
            common.info(f"listening on {url} (Ctrl-C to stop)")
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        if recorder is not None:
            recorder.close()
    counts = printer.counts
    common.info(f"stopped: {counts['accepted']} accepted, {counts['rejected']} rejected")

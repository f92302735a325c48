"""``knoxhook listen``: a callback receiver that verifies, records and forwards."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from knoxhook.cli import common, listen_handoff, registry
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
        label = {502: "forward_failed", 503: "unavailable"}.get(verdict.status, "rejected")
        text = (
            f"{time} [red]{label} {verdict.status}[/red] {e(verdict.reason)}: {e(verdict.message)}"
        )
    if verdict.forward is not None:
        text += " -> " + e(_handed(verdict.forward))
    return text


def _handed(forward: dict[str, Any]) -> str:
    """Where a callback went: ``outbox #12``, ``stream NAME ID``, ``app 202``."""
    if forward.get("mode") == "outbox":
        return f"outbox #{forward['id']}" + (" (already queued)" if forward["duplicate"] else "")
    if forward.get("mode") == "stream":
        return f"stream {forward['stream']} {forward['id']}"
    return f"app {forward['status'] if forward['status'] is not None else forward['error']}"


VERDICTS = ("accepted", "forward_failed", "unavailable", "rejected")
DELIVERIES = ("delivered", "dead_lettered")  # the outbox's, after the answer


class Printer:
    """Prints one line per callback (JSON lines with --json) and keeps the counts.

    When stdout goes away (``listen --json | head -2``), nothing it prints can change an
    HTTP answer: if stdout was the only output (no --record, no --forward-to), the
    listener stops cleanly (exit 0, in-flight callbacks answered); otherwise it keeps
    serving and stops printing. ``stop`` is set then, and after ``max_callbacks``
    accepted callbacks."""

    def __init__(
        self,
        fmt: common.OutputFormat,
        stop: threading.Event,
        *,
        max_callbacks: int | None = None,
        stdout_is_the_point: bool = True,
    ) -> None:
        self.json = fmt in (common.OutputFormat.JSON, common.OutputFormat.NDJSON)
        self.counts = dict.fromkeys(VERDICTS + DELIVERIES, 0)
        self.stop = stop
        self.max_callbacks = max_callbacks
        self.stdout_is_the_point = stdout_is_the_point
        self.stdout_closed = False
        self._lock = threading.Lock()
        self._console = None if self.json else common.console()

    def event(self, kind: str, **fields: Any) -> None:
        if self.json:
            self._write(json.dumps({"kind": kind, **fields}, ensure_ascii=False) + "\n")

    def __call__(self, verdict: Verdict) -> None:
        with self._lock:
            self.counts[verdict.verdict] += 1
            if self.max_callbacks is not None and self.counts["accepted"] >= self.max_callbacks:
                self.stop.set()
        if verdict.rotation is not None:
            rotation = verdict.rotation
            common.info(
                f"certificate refreshed after a failed signature: old {rotation['old']} -> "
                f"new {rotation['new'] or rotation.get('error')}"
            )
        if self.json:
            self.event("callback", **verdict.to_json())
        elif self._console is not None:
            with self._console.capture() as capture:
                self._console.print(_line(verdict), markup=True, highlight=False)
            self._write(capture.get())

    def delivery(self, event: dict[str, Any]) -> None:
        """An outbox delivery attempt (delivered, retry, dead_lettered)."""
        with self._lock:
            if event["outcome"] in self.counts:
                self.counts[event["outcome"]] += 1
        if self.json:
            self.event("delivery", **{k: v for k, v in event.items() if k != "kind"})
        else:
            from datetime import UTC, datetime

            now = datetime.now(UTC).strftime("%H:%M:%S")
            self._write(listen_handoff.delivery_line(event, now) + "\n")

    def _write(self, text: str) -> None:
        with self._lock:
            if self.stdout_closed:
                return
            try:
                sys.stdout.write(text)
                sys.stdout.flush()
            except (BrokenPipeError, ValueError):
                self._stdout_gone()

    def _stdout_gone(self) -> None:
        """stdout was closed by its reader: never print again (nor at exit)."""
        import os

        self.stdout_closed = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush is quiet
        os.close(devnull)
        if self.stdout_is_the_point:
            common.info("stdout was closed: stopping")
            self.stop.set()
        else:
            common.info("stdout was closed: still serving (see --record), no longer printing")


def _tls(cert: Path | None, key: Path | None) -> Any:
    """``--tls-cert``/``--tls-key`` as a ``serving.Tls``, checked before serving."""
    import ssl

    from knoxhook.errors import UsageError
    from knoxhook.serving import Tls

    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise UsageError("--tls-cert and --tls-key go together", hint="give both, or neither")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(
            f"--tls-cert {cert} / --tls-key {key}: cannot use them ({why})",
            hint="give a PEM certificate chain and its PEM private key",
        ) from exc
    return Tls(str(cert), str(key))


def _log_handler(log_format: str) -> Any:
    """One line per warning on stderr: ``warning: ...``, or a JSON object."""
    import logging

    class JsonLines(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return json.dumps(
                {
                    "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
                    "level": record.levelname.lower(),
                    "logger": record.name,
                    "message": record.getMessage(),
                }
            )

    class TextLines(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return f"{record.levelname.lower()}: {common.one_line(record.getMessage())}"

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if log_format == "json" else TextLines())
    return handler


NONCE_STORE_ENV = "KNOXHOOK_NONCE_STORE"


def _redis_store(url: str, window: float) -> Any:
    """``--nonce-store redis://...``: checked now; an unreachable Redis only warns (the
    receiver answers 503 until it answers, and /readyz says so)."""
    from urllib.parse import urlsplit

    from knoxhook.errors import UsageError
    from knoxhook.httptrace import redact_url
    from knoxhook.receiver.redis_store import (
        SCHEMES,
        RedisNonceStore,
        StoreUnavailableError,
    )

    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UsageError(f"--nonce-store {shown}: not a valid URL ({exc})") from exc
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise UsageError(
            f"--nonce-store must be a redis://HOST:PORT/DB or rediss:// URL: {shown!r}",
            hint="for a SQLite file on this host, use --nonce-db FILE",
        )
    listen_handoff.check_redis_url("--nonce-store", url, NONCE_STORE_ENV)
    try:
        store = RedisNonceStore(url, window)
    except ValueError as exc:  # from redis-py's URL parser (a bad DB number...)
        raise UsageError(f"--nonce-store {shown}: {exc}") from exc
    try:
        store.ping()
    except StoreUnavailableError as exc:
        common.warn(f"{exc.message}; callbacks get 503 until it answers")
    return store


def _nonce_store(path: Path | None, window: float, url: str | None = None) -> Any:
    from knoxhook.config import cache_dir
    from knoxhook.errors import UsageError
    from knoxhook.receiver.nonces import MemoryNonceStore

    if url:
        if path is not None:
            raise UsageError(
                "--nonce-db and --nonce-store (or $KNOXHOOK_NONCE_STORE) are two stores: give one"
            )
        return _redis_store(url, window)
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
    nonce_store: Annotated[
        str | None,
        typer.Option(
            "--nonce-store",
            metavar="URL",
            envvar=NONCE_STORE_ENV,
            help="Replay store shared by several replicas: redis://HOST:PORT/DB or "
            "rediss:// (a URL with a password: only in $KNOXHOOK_NONCE_STORE).",
            show_default=False,
            show_envvar=False,
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
            help="Hand each accepted callback (same body and headers, plus "
            "Idempotency-Key: the nonce) to your app, through the outbox.",
            show_default=False,
        ),
    ] = None,
    forward_mode: Annotated[
        str,
        typer.Option(
            "--forward-mode",
            metavar="outbox|sync",
            help="outbox: queue durably, answer Knox 200, deliver with retries and dead "
            "letters; sync: post while Knox waits, 502 to Knox when the app fails.",
        ),
    ] = "outbox",
    outbox: Annotated[
        Path | None,
        typer.Option(
            "--outbox",
            metavar="FILE",
            help="The outbox's SQLite file, one per replica (default: outbox.sqlite3 "
            "in the cache dir).",
            show_default=False,
        ),
    ] = None,
    to_stream: Annotated[
        str | None,
        typer.Option(
            "--to-stream",
            metavar="URL",
            envvar=listen_handoff.TO_STREAM_ENV,
            help="XADD each accepted callback to a Redis Stream: "
            "redis://HOST:PORT/DB/STREAM[?maxlen=N] (with a password: only in "
            "$KNOXHOOK_TO_STREAM).",
            show_default=False,
            show_envvar=False,
        ),
    ] = None,
    retry_attempts: Annotated[
        int,
        typer.Option(
            "--retry-attempts", metavar="N", help="Outbox: attempts before a dead letter."
        ),
    ] = 10,
    retry_base: Annotated[
        float,
        typer.Option(
            "--retry-base",
            metavar="SECONDS",
            help="Outbox: the first retry waits up to this; each next one twice as long.",
        ),
    ] = 1.0,
    retry_cap: Annotated[
        float,
        typer.Option(
            "--retry-cap",
            metavar="SECONDS",
            help="Outbox: no retry waits longer (nor for the app's Retry-After).",
        ),
    ] = 600.0,
    drain_seconds: Annotated[
        float,
        typer.Option(
            "--drain-seconds",
            metavar="SECONDS",
            help="Outbox: on stop, how long deliveries in flight may finish.",
        ),
    ] = 10.0,
    max_body: Annotated[
        int | None,
        typer.Option(
            "--max-body",
            metavar="BYTES",
            help="Refuse bodies over this size, while they arrive (default 16 MiB).",
            show_default=False,
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Accept only callbacks whose signature covers the body exactly as "
            "received (no re-serialized forms).",
        ),
    ] = False,
    max_callbacks: Annotated[
        int | None,
        typer.Option(
            "--max-callbacks",
            metavar="N",
            help="Exit 0 once N callbacks were accepted (CI: wait for the callback).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="Stop after this long; with --max-callbacks, exit 7 if fewer came.",
            show_default=False,
        ),
    ] = None,
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format",
            metavar="text|json",
            help="Warnings on stderr as text lines or JSON objects.",
        ),
    ] = "text",
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            "--tls-cert",
            metavar="FILE.pem",
            help="Serve HTTPS with this certificate chain (with --tls-key).",
            show_default=False,
        ),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option(
            "--tls-key",
            metavar="FILE.pem",
            help="The private key of --tls-cert (keep it 0600).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            metavar="N",
            help="Serve with N processes on one port, sharing the replay store "
            "(not with --max-callbacks; see docs/deploy.md).",
        ),
    ] = 1,
    json_output: common.JsonOption = False,
    output: common.OutputOption = None,
) -> None:
    """Receive Knox callbacks: verify each one, refuse forgeries and replays.

    Answers 200 only to a callback whose signature verifies with the trusted
    certificate, whose nonce and signature are new, and which was recorded
    (--record) and handed on: committed to the outbox (--forward-to; delivered
    to your app afterwards, retried, dead letters in `knoxhook callbacks`), added
    to a Redis Stream (--to-stream), or taken by your app while Knox waits
    (--forward-mode sync); 400 (409 for a replay, 413 too large)
    with {"status": "rejected", "reason", "message"} otherwise, and 503 (retry
    later) when it cannot keep the callback now. Nonces are kept in a SQLite file
    (or in Redis with --nonce-store, shared by several replicas), so a replay is
    refused also after a restart. Prints one line per callback (JSON
    lines with --json: {"kind": "listening"|"callback", ...}); Ctrl-C or SIGTERM
    stop it after the callbacks in flight are answered. Without --cert it uses the
    stored Knox certificate (fetched when missing or expired) and downloads it again
    when a signature fails (rotation). GET /healthz and /readyz are probes.

    Examples:

    \b
      knoxhook listen --port 8000 --record callbacks.ndjson
      knoxhook listen --cert knox.pem --forward-to http://127.0.0.1:3000/knox --json
      knoxhook listen --forward-to http://127.0.0.1:3000/knox --forward-mode sync
      knoxhook listen --to-stream redis://127.0.0.1:6379/0/knox-callbacks
      knoxhook listen --cert knox.pem --max-callbacks 1 --timeout 60 --json  # in CI
      knoxhook listen --tls-cert server.pem --tls-key server-key.pem --port 8443
      knoxhook listen --nonce-store redis://127.0.0.1:6379/0 --host 0.0.0.0  # replicas
      knoxhook listen --workers 2 --record callbacks.ndjson  # two processes, one port
    """
    from knoxhook.cli.context import STREAM_FORMATS  # no yaml/tsv, no --jq/--fields: a stream
    from knoxhook.errors import TransportError, UsageError
    from knoxhook.receiver.app import CallbackReceiver, StaticCertificates
    from knoxhook.receiver.certificates import StoredCertificates, load_certificate_files
    from knoxhook.serving import Limits, serve_in_thread
    from knoxhook.signature import MAX_BODY_BYTES

    fmt = common.output_format(json_output, output, supports=STREAM_FORMATS, shaped=False)
    common.require_text(path=path, forward_to=forward_to)
    if not path.startswith("/"):
        raise UsageError(f"--path must start with '/': {path!r}")
    handing = listen_handoff.HandoffOptions(
        forward_to, forward_mode, outbox, to_stream, retry_attempts, retry_base, retry_cap,
        drain_seconds,
    )  # fmt: skip
    handing.check()
    if not nonce_window > 0:  # also NaN, which would make every nonce a "replay"
        raise UsageError(f"--nonce-window must be a positive number of seconds: {nonce_window}")
    if max_body is not None and max_body < 1:
        raise UsageError(f"--max-body must be a positive number of bytes: {max_body}")
    if max_callbacks is not None and max_callbacks < 1:
        raise UsageError(f"--max-callbacks must be at least 1: {max_callbacks}")
    if timeout is not None and not timeout > 0:
        raise UsageError(f"--timeout must be a positive number of seconds: {timeout}")
    if log_format not in ("text", "json"):
        raise UsageError(f"--log-format must be text or json: {log_format!r}")
    if workers < 1 or (workers > 1 and max_callbacks is not None):
        raise UsageError(
            f"--workers must be at least 1: {workers}"
            if workers < 1
            else "--max-callbacks counts in one process: it does not go with --workers",
            hint=None if workers < 1 else "use --workers 1 (the default) to wait for callbacks",
        )
    common.check_port(port)
    tls = _tls(tls_cert, tls_key)
    body_limit = max_body or MAX_BODY_BYTES
    provider: Any
    if cert:
        provider = StaticCertificates(load_certificate_files(cert))
    else:
        with cert_hint():
            provider = StoredCertificates(common.settings())
    worker_sock = None
    if workers > 1:  # the parent binds, forks, announces and supervises (serving_workers)
        from knoxhook.serving import RunningServer
        from knoxhook.serving_workers import fork_workers

        def announce(bound: int) -> None:
            url = RunningServer(host, bound, "https" if tls else "http").base_url + path
            Printer(fmt, threading.Event()).event("listening", url=url, workers=workers)
            common.info(f"listening on {url} with {workers} workers (Ctrl-C to stop)")

        role = fork_workers(workers, host, port, announce, stop_seconds=30.0)
        if role.exit_code is not None:
            raise typer.Exit(role.exit_code)
        worker_sock = role.sock
    store = _nonce_store(nonce_db, nonce_window, nonce_store)
    recorder = _recorder(record) if record is not None else None
    handoff = listen_handoff.build(handing)
    stop = threading.Event()
    printer = Printer(
        fmt,
        stop,
        max_callbacks=max_callbacks,
        stdout_is_the_point=record is None and not handing.any,
    )
    receiver = CallbackReceiver(
        provider,
        path=path,
        nonce_store=store,
        recorder=recorder,
        handoff=handoff,
        on_callback=printer,
        on_delivery=printer.delivery,
        strict=strict,
        max_body_bytes=body_limit,
    )
    # an attached JWS carries the body again, base64url-encoded, in a header
    limits = Limits(max_header_bytes=body_limit * 4 // 3 + 64 * 1024)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if in_main else None
    timed_out = False
    try:
        with serve_in_thread(
            receiver,
            host,
            port,
            limits=limits,
            log_handler=_log_handler(log_format),
            tls=tls,
            sock=worker_sock,
        ) as server:
            url = server.base_url + path
            if worker_sock is None:  # with --workers, the parent announced it
                printer.event("listening", url=url)
                common.info(f"listening on {url} (Ctrl-C to stop)")
            deadline = None if timeout is None else time.monotonic() + timeout
            try:
                while not stop.wait(0.1):
                    if deadline is not None and time.monotonic() >= deadline:
                        timed_out = True
                        break
            except KeyboardInterrupt:
                pass
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    counts = printer.counts
    common.info(
        "stopped: "
        + ", ".join(
            f"{counts[v]} {v}"
            for v in VERDICTS + DELIVERIES
            if counts[v] or v in ("accepted", "rejected")
        )
    )
    if timed_out and max_callbacks is not None:
        raise TransportError(
            f"--timeout {timeout:g}: {counts['accepted']} of {max_callbacks} callbacks "
            "accepted in time",
            hint="is the subscription pointing at this listener's URL?",
        )

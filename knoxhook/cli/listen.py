"""``knoxhook listen``: a callback receiver that verifies, records and forwards."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from knoxhook.cli import common, listen_handoff, listen_output, listen_setup, registry
from knoxhook.cli.verify import CertOption, cert_hint

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
            envvar=listen_setup.NONCE_STORE_ENV,
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
            help=(
                "stderr as text lines, or JSON objects (every line: the receiver's logs"
                " and listen's own messages and errors)."
            ),
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
    # from here on every stderr line is a JSON object (info, warnings, errors, logs)
    common.current().json_log = log_format == "json"
    if workers < 1 or (workers > 1 and max_callbacks is not None):
        raise UsageError(
            f"--workers must be at least 1: {workers}"
            if workers < 1
            else "--max-callbacks counts in one process: it does not go with --workers",
            hint=None if workers < 1 else "use --workers 1 (the default) to wait for callbacks",
        )
    common.check_port(port)
    tls = listen_setup.tls(tls_cert, tls_key)
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
            listen_output.Printer(fmt, threading.Event()).event(
                "listening", url=url, workers=workers
            )
            common.info(f"listening on {url} with {workers} workers (Ctrl-C to stop)")

        role = fork_workers(workers, host, port, announce, stop_seconds=30.0)
        if role.exit_code is not None:
            raise typer.Exit(role.exit_code)
        worker_sock = role.sock
    store = listen_setup.nonce_store(nonce_db, nonce_window, nonce_store)
    recorder = listen_setup.recorder(record) if record is not None else None
    handoff = listen_handoff.build(handing, window=nonce_window)
    stop = threading.Event()
    printer = listen_output.Printer(
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
            log_handler=listen_setup.log_handler(log_format),
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
            for v in listen_output.VERDICTS + listen_output.DELIVERIES
            if counts[v] or v in ("accepted", "rejected")
        )
    )
    if timed_out and max_callbacks is not None:
        raise TransportError(
            f"--timeout {timeout:g}: {counts['accepted']} of {max_callbacks} callbacks "
            "accepted in time",
            hint="is the subscription pointing at this listener's URL?",
        )

"""``knoxhook emulator``: run the local Knox cloud emulator."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from knoxhook.cli import common, emulator_controls, registry
from knoxhook.emulator import (
    CLIENTS_ENV,
    CONTROL_TOKEN_ENV,
    CONTROL_TOKEN_HEADER,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_SIGNING,
    DELIVERY_BACKOFF,
    DELIVERY_RETRIES,
    DELIVERY_TIMEOUT,
    DEMO_CLIENT_ID,
    SIGNING_HELP,
    CertAction,
    SigningMode,
)

emulator_app = registry.group(
    "emulator",
    "Run a local Knox cloud emulator (OAuth, KWN subscriptions, signed callbacks).\n\n"
    "Examples:\n\n\b\n"
    "  knoxhook emulator run --port 8765\n"
    "  knoxhook emulator run --port 0 --cert-state expired\n"
    "  knoxhook emulator fault add --path /kwn/v1/subscriptions --status 503\n"
    "  knoxhook emulator cert rotate --new-key\n"
    "  knoxhook emulator deliveries --json",
)
# The controls of a running emulator (emulator_controls.py): fault, cert, deliveries, reset.
emulator_controls.attach(emulator_app)


def _clients(specs: list[str] | None) -> dict[str, str] | None:
    from knoxhook.emulator.config import parse_clients

    if specs:
        return parse_clients(specs)
    env = os.environ.get(CLIENTS_ENV, "").strip()
    if env:
        return parse_clients([part for part in env.split(",") if part.strip()])
    return None


@emulator_app.command("run")
def run(
    host: Annotated[
        str,
        typer.Option(
            "--host", metavar="HOST", help="Address to listen on (loopback unless you say so)."
        ),
    ] = DEFAULT_HOST,
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", help="Port; 0 picks a free one.")
    ] = DEFAULT_PORT,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="Keep state (SQLite), the certificate and its key here across restarts; "
            "default: in memory.",
            show_default=False,
        ),
    ] = None,
    client: Annotated[
        list[str] | None,
        typer.Option(
            "--client",
            metavar="ID:SECRET",
            help="A fake client ID:SECRET the emulator accepts (repeatable; test data only, "
            f"never real credentials). Also {CLIENTS_ENV}=id:secret,id2:secret2. "
            f"Default: the demo client {DEMO_CLIENT_ID}.",
            show_default=False,
        ),
    ] = None,
    legacy_client: Annotated[
        list[str] | None,
        typer.Option(
            "--legacy-client",
            metavar="IDENTIFIER:KEYS.json",
            help="A legacy (Knox Guard) client: a Client Identifier and the keys.json whose "
            "Public key it is registered with (repeatable; test data only). Default: the demo "
            "legacy client knoxhook-demo-identifier (docs/configuration.md, Knox Guard).",
            show_default=False,
        ),
    ] = None,
    signing: Annotated[
        SigningMode,
        typer.Option(
            "--signing", help=f"How callbacks are signed (X-WSM-SIGNATURE). {SIGNING_HELP}."
        ),
    ] = DEFAULT_SIGNING,
    cert_state: Annotated[
        CertAction | None,
        typer.Option(
            "--cert-state",
            help="Re-issue the validation certificate at start: valid, expired, not yet "
            "valid, or rotated (same or new key). Default: keep it (or make a valid one).",
            show_default=False,
        ),
    ] = None,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Allow a --host that is not loopback. The control endpoints (/_emulator) "
            f"then need the control token printed at start-up (set {CONTROL_TOKEN_ENV} to "
            "choose it), sent in the " + CONTROL_TOKEN_HEADER + " header.",
        ),
    ] = False,
    allow_remote_delivery: Annotated[
        bool,
        typer.Option(
            "--allow-remote-delivery",
            help="Deliver callbacks to addresses other than loopback too. Default: loopback "
            "only, checked on the address connected to.",
        ),
    ] = False,
    delivery_timeout: Annotated[
        float,
        typer.Option(
            "--delivery-timeout", metavar="SECONDS", help="Seconds to wait for a receiver."
        ),
    ] = DELIVERY_TIMEOUT,
    delivery_retries: Annotated[
        int,
        typer.Option("--delivery-retries", metavar="N", help="Retries after a failed delivery."),
    ] = DELIVERY_RETRIES,
    delivery_backoff: Annotated[
        float,
        typer.Option(
            "--delivery-backoff", metavar="SECONDS", help="First retry delay (doubles each time)."
        ),
    ] = DELIVERY_BACKOFF,
) -> None:
    """Run the Knox cloud emulator until Ctrl-C; print its base URL once it is ready.

    It serves the OAuth 2.0 token endpoint, the KWN Subscription API (/kwn/v1 and
    /kcs/kwn/v0.1), /kwn/v1/downloadCertificate, control endpoints under /_emulator
    (trigger events, inject faults, counters) and /openapi.json. Without --client it
    accepts the demo client knoxhook-demo / knoxhook-demo-secret (test data).

    The base URL is the only line on stdout, so scripts can read it. It listens on
    loopback and delivers callbacks to loopback addresses only, unless told otherwise
    (--allow-remote, --allow-remote-delivery).

    Examples:

    \b
      knoxhook emulator run
      knoxhook emulator run --port 0 --data-dir ./emulator-state --signing samsung-reserialized
      KNOXHOOK_EMULATOR_CLIENTS=ci:ci-test-secret knoxhook emulator run --port 0
      knoxhook trigger KDMS_DEVICE_UPLOAD --emulator http://127.0.0.1:8765
      knoxhook emulator run --host 0.0.0.0 --allow-remote
    """
    from knoxhook.emulator.config import EmulatorConfig
    from knoxhook.emulator.runner import run_emulator
    from knoxhook.errors import UsageError

    common.check_port(port)
    for flag, seconds in (
        ("--delivery-timeout", delivery_timeout),
        ("--delivery-backoff", delivery_backoff),
    ):
        if seconds != seconds:  # NaN passes every `<= 0` check
            raise UsageError(f"{flag} must be a number of seconds, not {seconds}")
    clients = _clients(client)
    config_kw: dict[str, Any] = {}
    if clients is not None:
        config_kw["clients"] = clients
    if legacy_client:
        from knoxhook.emulator.legacy import parse_legacy_clients

        config_kw["legacy_clients"] = parse_legacy_clients(legacy_client)
    token, token_line = _control_token(host, allow_remote)
    config = EmulatorConfig(
        signing=signing,
        data_dir=data_dir,
        cert_state=cert_state,
        delivery_timeout=delivery_timeout,
        delivery_retries=delivery_retries,
        delivery_backoff=delivery_backoff,
        control_token=token,
        allow_remote_delivery=allow_remote_delivery,
        **config_kw,
    )
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with run_emulator(config, host, port) as server:
            sys.stdout.write(server.base_url + "\n")
            sys.stdout.flush()
            names = ", ".join(sorted(config.clients))
            common.info(f"Knox emulator ready at {server.base_url} (clients: {names})")
            common.info(legacy_line(config.legacy_clients))
            if token_line:
                common.info(token_line)
            if allow_remote_delivery:
                common.warn("callbacks go to any address a subscription names")
            common.info("Press Ctrl-C to stop.")
            while not stop.wait(0.2):
                pass
            common.info("stopping the emulator")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _control_token(host: str, allow_remote: bool) -> tuple[str | None, str | None]:
    """The control token (None on loopback, unless one is set) and the line saying so.

    Off loopback the control endpoints would let anyone create deliveries to any URL and
    have the emulator sign whatever they send, so they need a token (issue 14.4).
    """
    import secrets

    from knoxhook.errors import UsageError
    from knoxhook.validation import is_loopback

    remote = not is_loopback(host)
    if remote and not allow_remote:
        raise UsageError(
            f"--host {host} is not a loopback address: anyone who can reach it could use "
            "the emulator",
            hint="add --allow-remote (its control endpoints then need a token), or listen "
            "on 127.0.0.1",
        )
    chosen = os.environ.get(CONTROL_TOKEN_ENV, "").strip()
    if chosen:
        return chosen, f"control endpoints need the token in {CONTROL_TOKEN_ENV}"
    if not remote:
        return None, None
    token = secrets.token_urlsafe(24)
    return token, (
        f"control token: {token} (send it in {CONTROL_TOKEN_HEADER}; knoxhook reads it from "
        f"{CONTROL_TOKEN_ENV})"
    )


def legacy_line(clients: Any) -> str:
    """Which legacy clients are registered; for the demo one, where its keys.json is."""
    from knoxhook.legacy import DEMO_IDENTIFIER, DEMO_KEYS_PATH

    if clients is None:
        return f"legacy demo client {DEMO_IDENTIFIER}, keys {DEMO_KEYS_PATH}"
    return f"legacy clients: {len(clients)}"

"""``listen``'s hand-off options (``--forward-to``, ``--forward-mode``, ``--outbox``,
``--to-stream``, ``--retry-*``) checked and made into a ``receiver.handoff.Handoff``; the
lines ``listen`` prints for the outbox's deliveries. Heavy imports stay inside."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from knoxhook.cli import display
from knoxhook.errors import UsageError

TO_STREAM_ENV: Final = "KNOXHOOK_TO_STREAM"
MODES: Final = ("outbox", "sync")


def check_redis_url(flag: str, url: str, env: str) -> None:
    """A Redis URL with a password only from ``env`` (argv is visible to every user)."""
    from urllib.parse import urlsplit

    from knoxhook.httptrace import redact_url

    try:
        password = urlsplit(url).password
    except ValueError as exc:
        raise UsageError(f"{flag} {redact_url(url)}: not a valid URL ({exc})") from exc
    if password is not None and os.environ.get(env) != url:
        raise UsageError(
            f"{flag}: a password does not belong on the command line (others see it)",
            hint=f"put the URL in the environment variable {env} instead",
        )


@dataclass(frozen=True)
class HandoffOptions:
    forward_to: str | None
    mode: str
    outbox: Path | None
    to_stream: str | None
    retry_attempts: int
    retry_base: float
    retry_cap: float
    drain_seconds: float

    @property
    def any(self) -> bool:
        return bool(self.forward_to or self.to_stream)

    def check(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"--forward-mode must be outbox or sync: {self.mode!r}")
        if self.forward_to is not None and not self.forward_to.startswith(("http://", "https://")):
            raise UsageError(f"--forward-to must be an http(s) URL: {self.forward_to!r}")
        if self.forward_to and self.to_stream:
            raise UsageError(
                "--forward-to and --to-stream are two hand-offs: give one",
                hint="consume the stream in your app, or let listen post to it",
            )
        if self.retry_attempts < 1:
            raise UsageError(f"--retry-attempts must be at least 1: {self.retry_attempts}")
        for flag, value in (
            ("--retry-base", self.retry_base),
            ("--retry-cap", self.retry_cap),
            ("--drain-seconds", self.drain_seconds),
        ):
            if not value >= 0:  # also NaN
                raise UsageError(f"{flag} must be a number of seconds >= 0: {value}")


def default_outbox() -> Path:
    from knoxhook.config import cache_dir
    from knoxhook.receiver.handoff.outbox import DEFAULT_FILE

    return cache_dir() / DEFAULT_FILE


def open_outbox(path: Path, flag: str = "--outbox") -> Any:
    """The ``Outbox`` at ``path``; a usage error naming ``flag`` when it cannot be used."""
    import sqlite3

    from knoxhook.receiver.handoff.outbox import Outbox
    from knoxhook.receiver.nonces import StoreUnavailableError

    try:
        return Outbox(path)
    except (sqlite3.Error, OSError, StoreUnavailableError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(
            f"{flag} {path}: cannot use it as an outbox ({reason})",
            hint="give a new file path; knoxhook creates the SQLite outbox itself",
        ) from exc


def build(options: HandoffOptions, http_options: Any = None, *, window: float) -> Any:
    """The ``Handoff`` for ``options`` (None when neither --forward-to nor --to-stream);
    ``window``: the replay window (a stream adds a callback once per window)."""
    from knoxhook.receiver.forwarder import Forwarder
    from knoxhook.receiver.handoff import SyncHandoff

    if options.to_stream:
        return _stream(options.to_stream, window)
    if not options.forward_to:
        return None
    forwarder = Forwarder(options.forward_to, options=http_options)
    if options.mode == "sync":
        return SyncHandoff(forwarder)
    from knoxhook.receiver.handoff.delivery import DeliveryPolicy, OutboxHandoff

    policy = DeliveryPolicy(
        max_attempts=options.retry_attempts,
        base_delay=options.retry_base,
        max_delay=options.retry_cap,
        drain_seconds=options.drain_seconds,
    )
    return OutboxHandoff(open_outbox(options.outbox or default_outbox()), forwarder, policy)


def _stream(url: str, window: float) -> Any:
    """``--to-stream``: checked now; an unreachable Redis only warns (503s until it
    answers). A callback is added once per ``window`` (the replay window)."""
    from knoxhook.httptrace import redact_url
    from knoxhook.receiver.handoff.stream import StreamHandoff, parse_stream_url

    check_redis_url("--to-stream", url, TO_STREAM_ENV)
    try:
        target = parse_stream_url(url)
        handoff = StreamHandoff(target, window_seconds=window)
    except ValueError as exc:
        raise UsageError(
            f"--to-stream {redact_url(url)}: {exc}",
            hint="for example redis://127.0.0.1:6379/0/knox-callbacks",
        ) from exc
    try:
        handoff.ping()
    except Exception as exc:  # redis.RedisError, OSError: redis is imported lazily
        display.warn(f"the stream {target.shown} is unavailable: {exc}; callbacks get 503")
    return handoff


def delivery_line(event: dict[str, Any], time: str) -> str:
    """One human line for an outbox delivery event (plain text, no markup)."""
    outcome = event["outcome"]
    answer = event["status"] if event["status"] is not None else event["error"]
    text = f"{time} {outcome} #{event['id']} nonce={event['nonce']} -> app {answer}"
    text += f" (attempt {event['attempts']})"
    if outcome == "retry":
        text += f", again in {event['retry_in']:g} s"
    if event.get("reason"):
        text += f": {event['reason']}"
    return text

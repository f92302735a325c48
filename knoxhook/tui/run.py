"""Wire the TUI to the real services: client, SubscriptionService, receiver, status.

``run_ui`` is what ``knoxhook ui`` calls. Everything that can fail before the screen
opens (no credentials, port taken, no usable certificate) fails here, as a normal
knoxhook error with its exit code, so the terminal is never left in a half-drawn state.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from knoxhook.config import Settings
from knoxhook.errors import KnoxhookError, NotConfiguredError, UsageError
from knoxhook.tui.model import CallbackSource


@dataclass(frozen=True)
class UiOptions:
    """The ``knoxhook ui`` flags."""

    listen: int | None = None
    host: str = "127.0.0.1"
    path: str = "/"
    follow: Path | None = None
    cert: Path | None = None
    no_color: bool = False


def _secret_if_needed(settings: Settings) -> str | None:
    """The client secret now (so a missing one is exit 3 before the screen opens),
    unless a fresh cached token makes it unnecessary."""
    import time

    from knoxhook import credentials, tokens

    if not settings.client_id:
        raise NotConfiguredError(
            f"no client id for profile {settings.profile!r}",
            hint="run `knoxhook auth login`, or set KNOXHOOK_CLIENT_ID and KNOXHOOK_CLIENT_SECRET",
        )
    cached = tokens.read_cached(settings)
    if cached is not None and cached.is_fresh(time.time(), 60.0):
        return None
    return credentials.resolve_secret(settings)


def run_ui(settings: Settings, options: UiOptions) -> None:
    """Open the app on ``settings``' profile until the user quits."""
    from knoxhook.client import open_client
    from knoxhook.subscriptions import SubscriptionService
    from knoxhook.tui.app import KnoxhookApp
    from knoxhook.tui.sources import FileFollower
    from knoxhook.tui.status import status_provider

    secret = _secret_if_needed(settings)
    with ExitStack() as stack:
        client = stack.enter_context(open_client(settings, secret=secret))
        source: CallbackSource | None = None
        subtitle = f"profile {settings.profile} · {settings.base_url}"
        if options.follow is not None:
            if options.follow.is_dir():
                raise UsageError(f"--follow {options.follow} is a directory, not an NDJSON file")
            source = FileFollower(options.follow)
        elif options.listen is not None:
            from knoxhook.tui.receiving import start_receiver

            receiver = stack.enter_context(
                start_receiver(settings, options.host, options.listen, options.path, options.cert)
            )
            source = receiver
            subtitle += f" · receiving on {receiver.url}"
        app = KnoxhookApp(
            SubscriptionService(client),
            callbacks=source,
            status=status_provider(settings, options.cert),
            subtitle=subtitle,
            no_color=options.no_color,
        )
        app.run()
    if app.return_code:  # Textual has already shown its own report of the crash
        raise KnoxhookError("the terminal UI stopped on an unexpected error")

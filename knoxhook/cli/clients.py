"""How a command gets its settings and its HTTP clients.

One ``HttpOptions`` per command (``http_options``): the Knox host, the ``--debug`` trace
to stderr (secrets redacted), the User-Agent and the timeout. ``token_manager`` and
``knox_client`` inject that same object into ``TokenManager`` and ``KnoxClient``; a
command that talks to anything else makes its client from it too
(``clients.http_options(timeout=120.0).client()``), so ``--debug`` traces it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from knoxhook.cli import display
from knoxhook.cli.checks import check_urls
from knoxhook.cli.context import current

if TYPE_CHECKING:
    from knoxhook.client import KnoxClient
    from knoxhook.config import Settings
    from knoxhook.httpoptions import HttpOptions
    from knoxhook.tokens import TokenManager


def settings(**overrides: str | None) -> Settings:
    """The resolved settings for this invocation (flag > env > profile > default).

    ``overrides`` are the command's own flags (``base_url=...``); None means "not given".
    """
    from knoxhook.config import load_settings

    invocation = current()
    return load_settings(
        profile=invocation.profile,
        overrides=overrides,
        allow_http=invocation.allow_http,
        timeout=invocation.timeout,
    )


def http_trace() -> Callable[[str], None] | None:
    """The ``--debug`` HTTP trace callback (None without ``--debug``)."""
    return _trace_line if current().debug else None


def _trace_line(line: str) -> None:
    display.info(line)


def http_options(resolved: Settings | None = None, *, timeout: float | None = None) -> HttpOptions:
    """How this command's HTTP clients are built (one ``HttpOptions``): the Knox host of
    ``resolved`` (None: a client given absolute URLs), the ``--debug`` trace, the
    User-Agent, and the timeout: ``--timeout`` > ``KNOXHOOK_TIMEOUT`` > the profile's
    ``timeout`` (of ``resolved``) > ``timeout`` (the command's own default) > 30 s.
    Inject it into ``TokenManager`` and ``KnoxClient`` alike, or make a client with
    ``.client()`` / ``.async_client()``."""
    from knoxhook.config import TIMEOUT_ENV, parse_timeout
    from knoxhook.httpoptions import HttpOptions

    options: dict[str, Any] = {"trace": http_trace()}
    chosen = resolved.timeout if resolved is not None else current().timeout
    if chosen is None and resolved is None and os.environ.get(TIMEOUT_ENV):
        chosen = parse_timeout(os.environ[TIMEOUT_ENV], TIMEOUT_ENV)
    if chosen is None:
        chosen = timeout
    if chosen is not None:
        options["timeout"] = chosen
    if resolved is None:
        return HttpOptions(**options)
    return HttpOptions.for_settings(resolved, **options)


def token_manager(resolved: Settings, *, secret: str | None = None) -> TokenManager:
    """A ``TokenManager`` for ``resolved`` with this command's ``http_options``."""
    from knoxhook.tokens import TokenManager

    return TokenManager(resolved, secret=secret, http=http_options(resolved))


@contextmanager
def secret_env_hint() -> Iterator[None]:
    """Refused credentials while ``KNOXHOOK_CLIENT_SECRET`` is set: say that the variable
    wins over the stored secret (a stale CI variable, not a new login, is the fix)."""
    from knoxhook.credentials import ENV_SECRET
    from knoxhook.errors import AuthenticationError

    try:
        yield
    except AuthenticationError as exc:
        if os.environ.get(ENV_SECRET):
            exc.hint = f"{ENV_SECRET} is set and wins over the stored secret: check or unset it"
        raise


@contextmanager
def knox_client(**overrides: str | None) -> Iterator[KnoxClient]:
    """An authenticated ``KnoxClient`` for this invocation (``--debug`` traces to stderr),
    as a context manager. ``overrides`` as for ``settings()``."""
    from knoxhook.client import open_client

    resolved = check_urls(settings(**overrides))
    with secret_env_hint(), open_client(resolved, http=http_options(resolved)) as client:
        yield client

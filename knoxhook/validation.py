"""Checks on what a person typed, made before any request (the CLI, the TUI, the service).

Event names are checked against the catalogue (``knoxhook.events``), with the closest
names suggested for a typo; callback URLs must be absolute https, or http to loopback
(Knox would otherwise send device data unencrypted), unless ``allow_http``. The Knox
base and token URLs likewise (``validate_knox_urls``): the client secret crosses to the
token URL, and the validation certificate, the root of trust of every callback, comes
from the base URL (RFC 6749 §2.3.1 and §3.2 require TLS for client authentication).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from knoxhook import events as catalogue
from knoxhook.errors import UsageError

if TYPE_CHECKING:
    from knoxhook.config import Settings

log = logging.getLogger(__name__)
KNOX_URLS = ("base_url", "token_url")
ALLOW_HTTP_HINT = (
    "use https://, or, if you really mean it, pass --allow-http (before the command), "
    "set KNOXHOOK_ALLOW_HTTP=1, or write allow_http = true in the profile"
)


def validate_events(names: Iterable[str]) -> tuple[str, ...]:
    """Catalogue names, upper-cased, de-duplicated in order; ``A,B`` is split.

    UsageError naming the closest catalogue events when a name is unknown, or when
    there is none at all.
    """
    result: list[str] = []
    unknown: list[str] = []
    for raw in names:
        for part in raw.split(","):
            name = part.strip().upper()
            if not name:
                continue
            if catalogue.get(name) is None:
                unknown.append(part.strip())
            elif name not in result:
                result.append(name)
    if unknown:
        raise UsageError(
            catalogue.unknown_events_message(unknown),
            hint="run `knoxhook events` to list the event catalogue",
        )
    if not result:
        raise UsageError("give at least one event (--event NAME)", hint="see `knoxhook events`")
    return tuple(result)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_url(url: str, *, allow_http: bool = False) -> str:
    """An absolute https URL (or http to loopback, or any http with ``allow_http``)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UsageError(f"not a valid callback URL: {url!r} ({exc})") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise UsageError(
            f"the callback URL must be an absolute http(s) URL, got {url!r}",
            hint="for example --url https://hooks.example.com/knox",
        )
    if any(c.isspace() for c in url):
        raise UsageError(f"the callback URL contains whitespace: {url!r}")
    if parts.scheme == "http" and not allow_http and not is_loopback(host):
        raise UsageError(
            f"refusing plain http:// to {host}: Knox would send device data unencrypted",
            hint="use https://, or, if you really mean it, pass --allow-http-callback "
            "(in a desired file: allow_http: true)",
        )
    return url


def validate_knox_urls(
    settings: Settings, *, warn: Callable[[str], None] | None = None
) -> Settings:
    """``settings`` when its base and token URLs may be used; a UsageError (exit 2)
    naming where the URL came from (flag, env variable, profile) otherwise:

    - not an absolute http(s) URL (httpx2 would fail later with "UnsupportedProtocol",
      reported as a network error);
    - plain ``http://`` to a host that is not this machine (127.0.0.0/8, ::1,
      localhost: the emulator and the demo stay as easy as ever), unless
      ``settings.allow_http``; then ``warn`` (default: a logged warning) is told, on
      every use, once per host.
    """
    remote: list[str] = []
    for key in KNOX_URLS:
        value = str(getattr(settings, key))
        where = settings.source_of(key)
        try:
            parts = urlsplit(value)
        except ValueError:  # e.g. an unclosed "[" of an IPv6 address
            parts = urlsplit("")
        host = parts.hostname
        if parts.scheme not in ("http", "https") or not host:
            raise UsageError(
                f"{where}: {value!r} is not an http(s) URL",
                hint="for example https://api.samsungknox.com, or the URL `knoxhook emulator "
                "run` printed",
            )
        if parts.scheme == "https" or is_loopback(host):
            continue
        if not settings.allow_http:
            raise UsageError(
                f"{where}: refusing plain http:// to {host}: the client secret, tokens and "
                "the validation certificate would cross the network unencrypted",
                hint=ALLOW_HTTP_HINT,
            )
        if host not in remote:
            remote.append(host)
    for host in remote:
        message = (
            f"plain http:// to {host}: the client secret, tokens and the validation "
            f"certificate cross the network unencrypted ({settings.source_of('allow_http')} "
            "allows it)"
        )
        (warn or log.warning)(message)
    return settings

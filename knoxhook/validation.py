"""Checks on what a person typed, made before any request (the CLI, the TUI, the service).

Event names are checked against the catalogue (``knoxhook.events``), with the closest
names suggested for a typo; callback URLs must be absolute https, or http to loopback
(Knox would otherwise send device data unencrypted), unless ``allow_http``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from knoxhook import events as catalogue
from knoxhook.errors import UsageError


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
        parts = []
        for name in unknown:
            near = catalogue.closest(name)
            parts.append(f"{name!r} (did you mean {', '.join(near)}?)" if near else f"{name!r}")
        noun = "event" if len(unknown) == 1 else "events"
        raise UsageError(
            f"unknown {noun}: {'; '.join(parts)}",
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
            hint="use https://, or pass --allow-http if you really mean it",
        )
    return url

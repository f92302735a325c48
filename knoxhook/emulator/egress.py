"""Where the emulator may send a callback: loopback only, unless told otherwise.

A subscription names any URL, so an emulator that delivers anywhere is an SSRF tool, a
port prober and a signing oracle for whoever can reach it (issue 14.4). By default it
delivers only to loopback addresses. The check is on the address connected to, not on
the host name: the name is resolved here, every address it resolves to is checked, and
the request is sent to the checked address itself (the URL's host replaced by it, with
the original ``Host`` header and TLS server name), so a name that resolves differently a
moment later (DNS rebinding) cannot slip past. ``--allow-remote-delivery`` lifts it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

REMOTE_REFUSED = "refused: the emulator delivers only to loopback addresses"


class DeliveryRefused(Exception):
    """The callback URL's host is not (only) a loopback address."""


def is_loopback_address(address: str) -> bool:
    """127.0.0.0/8, ::1, or an IPv4-mapped 127.x (``::ffff:127.0.0.1``)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


@dataclass(frozen=True)
class Target:
    """What to send a callback to: the URL, and the headers and extensions to add."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


async def resolve(url: str, *, allow_remote: bool) -> list[Target]:
    """The targets for a delivery to ``url``, one per address, to try in order (as a
    client tries each address of a name); ``DeliveryRefused`` when any is not loopback.

    With ``allow_remote`` the URL is used as it is.
    """
    import httpx2

    if allow_remote:
        return [Target(url)]
    parsed = httpx2.URL(url)
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise DeliveryRefused(f"{REMOTE_REFUSED}; {host!r} does not resolve ({exc})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    remote = [a for a in addresses if not is_loopback_address(a)]
    if remote or not addresses:
        raise DeliveryRefused(
            f"{REMOTE_REFUSED}; {host!r} is {', '.join(sorted(set(remote))) or 'no address'} "
            "(start it with --allow-remote-delivery to allow it)"
        )
    headers = {"Host": parsed.netloc.decode("ascii").rpartition("@")[2]}
    extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
    return [Target(str(parsed.copy_with(host=a)), headers, extensions) for a in addresses]

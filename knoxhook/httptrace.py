"""The ``--debug`` HTTP trace, with every secret and token redacted.

``HttpOptions`` installs these as httpx2 event hooks (``hooks()`` for a sync client,
``async_hooks()`` for an async one) when it has a ``trace`` callback (the CLI passes
one that writes to stderr). Redaction is by
name (``Authorization``, ``client_secret``, ``access_token``, ``token``, ...) and, as a
second net, by value: any string in ``secrets`` is replaced wherever it appears. The
password of any ``user:pass@`` URL in a line (the request URL, a ``url`` or
``callbackUrl`` in a JSON body) is hidden by ``redact_url``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlsplit, urlunsplit

if TYPE_CHECKING:
    import httpx2

REDACTED: Final = "***"
SECRET_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-knox-apitoken"}
)
SECRET_FIELDS: Final = frozenset(
    {
        "client_secret",
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "accessToken",
        "client_assertion",
        "password",
    }
)

Trace = Callable[[str], None]


def redact_url(url: str) -> str:
    """``url`` with the password of ``user:pass@`` replaced by ``***``: for every place a
    URL is displayed or logged (a callback URL, a Redis URL, a probe result)."""
    try:
        parts = urlsplit(url)
        password, port = parts.password, parts.port
    except ValueError:  # not a URL we can take apart: show it only up to its userinfo
        return url.rpartition("@")[2] if "@" in url else url
    if password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:{REDACTED}@{host}" + (f":{port}" if port else "")
    return urlunsplit(parts._replace(netloc=netloc))


# a URL inside a trace line (the request line, a JSON body's url/callbackUrl, a form)
_URL_IN_TEXT: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")


def redact_urls(text: str) -> str:
    """``text`` with the password of every ``scheme://user:pass@host`` URL in it hidden
    by ``redact_url``: a callback URL may carry basic-auth credentials (issue 9, defect 9)."""
    if "@" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-trivial secret value replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def redact_header(name: str, value: str) -> str:
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme, _, rest = value.partition(" ")
    return f"{scheme} {REDACTED}" if rest else REDACTED


def redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if k in SECRET_FIELDS else redact_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_json(v) for v in value]
    return value


def redact_body(content: bytes, content_type: str) -> str:
    """A one-line, redacted rendering of a request or response body."""
    if not content:
        return ""
    text = content.decode("utf-8", "replace")
    if "x-www-form-urlencoded" in content_type:
        pairs = parse_qsl(text, keep_blank_values=True)
        return "&".join(f"{k}={REDACTED if k in SECRET_FIELDS else v}" for k, v in pairs)
    if "json" in content_type:
        try:
            return json.dumps(redact_json(json.loads(text)), ensure_ascii=False)
        except ValueError:
            pass
    if len(text) > 500:
        text = text[:500] + f"... ({len(content)} bytes)"
    return text.replace("\n", "\\n")


class HttpTracer:
    """httpx2 event hooks that describe each request and response on ``trace``."""

    def __init__(self, trace: Trace, secrets: Callable[[], Iterable[str | None]]) -> None:
        self._trace = trace
        self._secrets = secrets

    def _emit(self, line: str) -> None:
        self._trace(redact_urls(scrub(line, self._secrets())))

    def _emit_message(self, mark: str, headers: httpx2.Headers, content: bytes) -> None:
        """The headers and body of a request (``mark`` ">") or response ("<")."""
        for name, value in headers.items():
            self._emit(f"{mark} {name}: {redact_header(name, value)}")
        body = redact_body(content, headers.get("content-type", ""))
        if body:
            self._emit(f"{mark} {body}")

    def on_request(self, request: httpx2.Request) -> None:
        self._emit(f"> {request.method} {request.url}")
        self._emit_message(">", request.headers, request.content)

    def on_response(self, response: httpx2.Response) -> None:
        response.read()
        self._emit(f"< {response.status_code} {response.reason_phrase}")
        self._emit_message("<", response.headers, response.content)

    def hooks(self) -> dict[str, list[Callable[..., Any]]]:
        return {"request": [self.on_request], "response": [self.on_response]}

    async def on_async_request(self, request: httpx2.Request) -> None:
        self.on_request(request)  # the request body is already in memory

    async def on_async_response(self, response: httpx2.Response) -> None:
        await response.aread()
        self.on_response(response)  # read() now returns what aread() read

    def async_hooks(self) -> dict[str, list[Callable[..., Any]]]:
        """The same trace for an ``httpx2.AsyncClient`` (whose hooks are awaited)."""
        return {"request": [self.on_async_request], "response": [self.on_async_response]}

"""``knoxhook api METHOD PATH``: an authenticated raw request to any Knox path (like ``gh api``).

The escape hatch: every Knox API the other commands do not wrap is usable with the
profile's credentials, the client's retries (a POST is never repeated once it may have
arrived) and ``--debug`` (secrets redacted). The body goes to stdout as Knox sent it
(pretty JSON on a terminal), so ``knoxhook api GET /x | jq`` works; the exit code says
how it went, by the table in ``knoxhook --help``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from knoxhook.cli import checks, clients, context, display, registry

api_app = registry.command()

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# the client sets these itself; a user value would replace the profile's token or host
RESERVED_HEADERS = frozenset({"authorization", "host", "content-length"})


def _read_data(data: str) -> bytes:
    """``@FILE`` is that file's bytes, ``-`` is stdin, anything else the text itself."""
    from knoxhook.errors import UsageError

    invocation = context.current()
    if data == "-":
        if invocation.stdin_is_terminal:
            display.info("reading the request body from stdin (end with Ctrl-D)")
        stdin = invocation.env.stdin
        buffer = getattr(stdin, "buffer", None)
        return buffer.read() if buffer is not None else stdin.read().encode("utf-8")
    if data.startswith("@"):
        from pathlib import Path

        try:
            return Path(data[1:]).read_bytes()
        except OSError as exc:
            raise UsageError(f"--data {data}: cannot read: {exc.strerror or exc}") from exc
    return data.encode("utf-8")


def _parse_headers(values: list[str]) -> dict[str, str]:
    from knoxhook.errors import UsageError

    headers: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition(":")
        name = name.strip()
        if not sep or not name or any(c in name for c in " \t\r\n") or "\n" in text:
            raise UsageError(
                f"--header {value!r} is not NAME:VALUE", hint="e.g. --header 'Accept: text/plain'"
            )
        if name.lower() in RESERVED_HEADERS:
            raise UsageError(
                f"--header {name}: knoxhook sets it (the profile's token, the base URL's host)",
                hint="use --profile to choose the credentials",
            )
        headers[name] = text.strip()
    return headers


def _write_body(body: bytes, content_type: str) -> None:
    """The body on stdout: pretty JSON on a terminal, else the bytes as received."""
    if not body:
        return
    env = context.current().env
    if env.stdout_isatty and "json" in content_type.lower():
        try:
            env.stdout.write(json.dumps(json.loads(body), indent=2, ensure_ascii=False) + "\n")
            env.stdout.flush()
            return
        except ValueError:  # not JSON after all: as received
            pass
    env.stdout.flush()
    buffer = getattr(env.stdout, "buffer", None)
    if buffer is not None:
        buffer.write(body)
        buffer.flush()
    else:
        env.stdout.write(body.decode("utf-8", "replace"))
        env.stdout.flush()


def _refusal(where: str, status: int, reason: str) -> Exception:
    """The error (and so the exit code) of a final 4xx, whose body was printed."""
    from knoxhook.errors import ApiError, AuthenticationError, NotFoundError

    message = f"{where}: Knox answered {status} {reason}".rstrip()
    if status == 401:
        return AuthenticationError(message, hint="run `knoxhook auth login`, or check the scope")
    if status == 404:
        return NotFoundError(message, status=status, hint="check the path (see knox-api docs)")
    return ApiError(message, status=status, hint="the response body above says why")


@api_app.command("api")
def api(
    method: Annotated[str, typer.Argument(metavar="METHOD", help="GET, POST, PUT, DELETE...")],
    path: Annotated[str, typer.Argument(metavar="PATH", help="A path on the Knox base URL.")],
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            "-d",
            metavar="@FILE|-|TEXT",
            help="The request body: @FILE, - for stdin, or the text (JSON by default).",
            show_default=False,
        ),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header",
            "-H",
            metavar="NAME:VALUE",
            help="An extra header (repeatable).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Send an authenticated request to any Knox API path, and print the response body.

    Uses the profile's credentials (the token is fetched or renewed as needed), retries
    like every command (a POST is never repeated once it may have arrived) and traces
    with --debug (secrets redacted). The body goes to stdout as received, pretty JSON on
    a terminal. Exits 0 on 2xx/3xx, 4 on 401, 6 on 404, 5 on other 4xx (the body is
    still printed), 7 on network or server errors after retries.

    Examples:

    \b
      knoxhook api GET /kwn/v1/subscriptions
      knoxhook api POST /kwn/v1/subscriptions --data @subscription.json
      echo '{"events": ["KDMS_DEVICE_UPLOAD"]}' | knoxhook api PUT /kwn/v1/subscriptions/ID -d -
    """
    from knoxhook.errors import UsageError

    checks.require_text(method=method, path=path, data=data, header=header)
    verb = method.upper()
    if verb not in METHODS:
        raise UsageError(f"METHOD {method!r} is not one of: {', '.join(METHODS)}")
    if not path.startswith("/") or path.startswith("//"):
        raise UsageError(
            f"PATH {path!r} must be a path on the Knox base URL, starting with one /",
            hint="e.g. /kwn/v1/subscriptions (choose the host with --base-url or the profile)",
        )
    headers = _parse_headers(header or [])
    body = _read_data(data) if data is not None else None
    if body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    accept = next((v for k, v in headers.items() if k.lower() == "accept"), "application/json")
    headers = {k: v for k, v in headers.items() if k.lower() != "accept"}
    with clients.knox_client() as client:
        response = client.request(
            verb, path, content=body, headers=headers, accept=accept, refusal_is_error=False
        )
        secrets = client.tokens.known_secrets()
    display.verbose(f"HTTP {response.status_code} {response.reason_phrase}")
    _write_body(_scrubbed(response.content, secrets), response.headers.get("content-type", ""))
    if response.status_code >= 400:
        raise _refusal(f"{verb} {path}", response.status_code, response.reason_phrase)


def _scrubbed(body: bytes, secrets: list[str | None]) -> bytes:
    """``body`` without the secret or a token in it (a server may echo one back)."""
    from knoxhook.httptrace import scrub

    text = body.decode("utf-8", "surrogateescape")
    return scrub(text, secrets).encode("utf-8", "surrogateescape")

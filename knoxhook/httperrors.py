"""Which httpx2 failures mean the request never left, and which mean it may have arrived.

The difference decides whether a non-idempotent request (a create, a token fetch) may
be sent again: one that never reached the server can always be retried; one that may
have reached it is ambiguous (``knoxhook.client`` module docstring). Imports httpx2:
import this only where a request is about to be made.
"""

from __future__ import annotations

from typing import Any, Final

import httpx2

from knoxhook.httptrace import redact_url

# Nothing was sent: the connection was never made, or no pooled one was free.
NOT_SENT: Final = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
# Sent (perhaps partly) and then nothing usable came back: the server may have acted.
MAYBE_SENT: Final = (httpx2.TimeoutException, httpx2.NetworkError, httpx2.ProtocolError)


def failure(exc: httpx2.HTTPError, timeout: float) -> str:
    """What went wrong, for a message: "timed out after 0.5 s" for a timeout (with the
    seconds that were allowed: ``--timeout``), else the exception's name."""
    if isinstance(exc, httpx2.TimeoutException):
        return f"timed out after {timeout:g} s"
    return type(exc).__name__


def json_body(response: httpx2.Response) -> Any:
    """The JSON body of a 2xx answer; ``MalformedResponseError`` (exit 7, with a hint
    about the base URL or a proxy) when it is not JSON: a captive portal's or a proxy's
    HTML page is the usual cause, never a reason to say "a bug"."""
    from knoxhook.errors import MalformedResponseError

    try:
        return response.json()
    except ValueError:
        pass
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    what = "an HTML page" if "html" in content_type else content_type or "no content type"
    try:
        request = response.request
        where = f"{request.method} {redact_url(str(request.url))}: "
    except RuntimeError:  # a response made without a request (tests)
        where = ""
    raise MalformedResponseError(
        f"{where}Knox answered {response.status_code} with a body that is not JSON ({what})",
        status=response.status_code,
    ) from None

"""Which httpx2 failures mean the request never left, and which mean it may have arrived.

The difference decides whether a non-idempotent request (a create, a token fetch) may
be sent again: one that never reached the server can always be retried; one that may
have reached it is ambiguous (``knoxhook.client`` module docstring). Imports httpx2:
import this only where a request is about to be made.
"""

from __future__ import annotations

from typing import Final

import httpx2

# Nothing was sent: the connection was never made, or no pooled one was free.
NOT_SENT: Final = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
# Sent (perhaps partly) and then nothing usable came back: the server may have acted.
MAYBE_SENT: Final = (httpx2.TimeoutException, httpx2.NetworkError, httpx2.ProtocolError)

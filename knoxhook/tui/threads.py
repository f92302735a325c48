"""Blocking calls awaited from the Textual event loop, in daemon threads of our own.

Textual's thread workers run on the event loop's executor, which is joined at exit, so
a request hanging on a dead network would keep ``q`` from quitting until it timed out.
A daemon thread is simply abandoned when the app exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def in_daemon_thread(call: Callable[[], T]) -> T:
    """``await`` the result of a blocking ``call`` run in a daemon thread."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():  # cancelled when the app quit meanwhile
            outcome()

    def target() -> None:
        try:
            result = call()
        except BaseException as exc:  # every outcome goes to the awaiting worker, not lost
            error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                loop.call_soon_threadsafe(settle, lambda: future.set_exception(error))
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, lambda: future.set_result(result))

    threading.Thread(target=target, name="knoxhook-ui-call", daemon=True).start()
    return await future

"""serving.bind: clear usage errors that say which flag to change; serve_in_thread's
log handler: knoxhook's INFO lines only when the caller asked (``-v listen``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from knoxhook.errors import UsageError
from knoxhook.serving import bind, serve_in_thread


def test_a_busy_port_says_pick_another_port() -> None:
    taken = bind("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(UsageError) as exc:
            bind("127.0.0.1", port)
    finally:
        taken.close()
    assert exc.value.message.startswith(f"cannot listen on 127.0.0.1:{port}: ")
    assert exc.value.hint == "pick another --port (0 picks a free one)"


@pytest.mark.parametrize("host", ["192.0.2.1", "nohost.invalid"])
def test_an_address_not_on_this_machine_says_check_host(host: str) -> None:
    # binding only: nothing is sent (192.0.2.0/24 is TEST-NET-1, never assigned here)
    with pytest.raises(UsageError) as exc:
        bind(host, 0)
    assert exc.value.message.startswith(f"cannot listen on {host}:0: ")
    assert exc.value.hint == "check --host: an address of this machine, such as 127.0.0.1"


# --- where the knoxhook loggers go while serving (`knoxhook -v listen`) -------------------


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelname, record.getMessage()))


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app with a lifespan and nothing else."""
    assert scope["type"] == "lifespan"
    for phase in ("startup", "shutdown"):
        assert (await receive())["type"] == f"lifespan.{phase}"
        await send({"type": f"lifespan.{phase}.complete"})


@pytest.fixture
def knoxhook_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("knoxhook")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.mark.parametrize(
    ("asked", "shown"),
    [(logging.NOTSET, ["WARNING"]), (logging.INFO, ["INFO", "WARNING"])],
)
def test_the_log_handler_gets_knoxhook_info_lines_only_when_the_caller_asked(
    knoxhook_logger: logging.Logger, asked: int, shown: list[str]
) -> None:
    knoxhook_logger.setLevel(asked)
    before = knoxhook_logger.handlers[:]
    uvicorn = logging.getLogger("uvicorn")
    uvicorn_before = (uvicorn.handlers[:], uvicorn.level, uvicorn.propagate)
    handler = _Lines()
    with serve_in_thread(_app, log_handler=handler):
        logging.getLogger("knoxhook.certs").info("downloaded the certificate: renewal")
        logging.getLogger("knoxhook.certs").debug("never shown")
        logging.getLogger("knoxhook.receiver").warning("the record could not be written")
    assert [level for level, _ in handler.lines] == shown
    # put back as they were: a later server in this process logs as its caller says
    assert knoxhook_logger.handlers == before
    assert knoxhook_logger.level == asked
    assert knoxhook_logger.propagate is True
    assert (uvicorn.handlers, uvicorn.level, uvicorn.propagate) == uvicorn_before

"""``knoxhook ui --listen``: run the callback receiver beside the UI and relay its verdicts.

The receiver (``knoxhook.receiver``) verifies each callback exactly as ``knoxhook
listen`` does; its ``on_callback`` hook hands every verdict to a ``ReceiverRelay``,
which passes the record to the app (or keeps it until the app has started).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from knoxhook.config import Settings
from knoxhook.errors import UsageError
from knoxhook.tui.model import Emit, Record

if TYPE_CHECKING:
    from knoxhook.receiver.app import Verdict

MAX_PENDING = 1000  # records kept while the screen is not up yet


class ReceiverRelay:
    """A ``CallbackSource`` fed by the receiver's ``on_callback`` (any thread)."""

    def __init__(self) -> None:
        self.url = ""
        self.description = "receiver"
        self._emit: Emit | None = None
        self._pending: list[Record] = []
        self._lock = threading.Lock()

    def on_callback(self, verdict: Verdict) -> None:
        self.deliver(verdict.to_json())

    def deliver(self, record: Record) -> None:
        with self._lock:
            if self._emit is None:
                if len(self._pending) < MAX_PENDING:
                    self._pending.append(record)
                return
            emit = self._emit
        emit(record)

    def start(self, emit: Emit) -> None:
        with self._lock:
            self._emit = emit
            pending, self._pending = self._pending, []
        for record in pending:
            emit(record)

    def stop(self) -> None:
        with self._lock:
            self._emit = None


@contextmanager
def start_receiver(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 0,
    path: str = "/",
    cert_file: Path | None = None,
) -> Iterator[ReceiverRelay]:
    """Serve the receiver on (host, port) until the block ends; yields the relay.

    Certificates: ``cert_file`` if given, else the stored Knox certificate (downloaded
    when missing or expired, and again when a signature fails: a rotation). Replays are
    refused with an in-memory nonce store.
    """
    from knoxhook.receiver.app import StaticCertificates, create_receiver
    from knoxhook.receiver.certificates import StoredCertificates, load_certificate_files
    from knoxhook.receiver.nonces import MemoryNonceStore
    from knoxhook.serving import serve_in_thread

    path = "/" + path.lstrip("/")
    provider = (
        StaticCertificates(load_certificate_files([cert_file]))
        if cert_file
        else StoredCertificates(settings)
    )
    relay = ReceiverRelay()
    app = create_receiver(
        provider, path=path, nonce_store=MemoryNonceStore(), on_callback=relay.on_callback
    )
    with ExitStack() as stack:
        try:
            server = stack.enter_context(serve_in_thread(app, host, port))
        except UsageError as exc:  # the port is taken: say which flag to change
            hint = "pick another --listen PORT (0 picks a free one)"
            raise UsageError(exc.message, hint=hint) from exc
        relay.url = server.base_url + path
        relay.description = f"receiver on {relay.url}"
        yield relay

"""Callback sources for the TUI: follow a ``--record`` NDJSON file, or run the receiver.

Both push receiver-shaped records (``received_at``, ``verdict``, ``reason``, ``event``,
``subscriptionId``, ``nonce``, ``trace_id``, ``headers``, ``body``) to an ``emit``
callable from their own thread; the app turns that into a Textual message.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from knoxhook.tui.model import Emit, Record


class FileFollower:
    """Tail an NDJSON file (like ``tail -F``): existing lines first, then new ones.

    The file may not exist yet; a truncated or replaced file is read again from the
    start. A line that is not a JSON object is shown as a record with verdict ``?``.
    """

    def __init__(self, path: Path, *, interval: float = 0.2) -> None:
        self.path = path
        self.interval = interval
        self.description = f"following {path}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, emit: Emit) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(emit,), name="knoxhook-follow", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self, emit: Emit) -> None:
        offset, inode, pending = 0, None, b""
        while not self._stop.is_set():
            try:
                stat = self.path.stat()
                if stat.st_ino != inode or stat.st_size < offset:
                    offset, inode, pending = 0, stat.st_ino, b""
                if stat.st_size > offset:
                    with self.path.open("rb") as fh:
                        fh.seek(offset)
                        chunk = fh.read(stat.st_size - offset)
                    offset += len(chunk)
                    *lines, pending = (pending + chunk).split(b"\n")
                    for line in lines:
                        if line.strip():
                            emit(parse_line(line))
            except OSError:
                pass  # not there yet, or being replaced: try again
            self._stop.wait(self.interval)


def parse_line(line: bytes) -> Record:
    """One NDJSON line as a record; never raises."""
    try:
        value: Any = json.loads(line)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    return {"verdict": "?", "reason": "not a JSON object", "body": line.decode(errors="replace")}

"""Record every callback the receiver gets, one JSON object per line (NDJSON).

Each line has at least ``received_at`` (RFC 3339, UTC), ``verdict`` (``accepted`` |
``rejected``), ``status`` (the HTTP status answered), ``reason`` (a
``knoxhook.signature.Reason`` or null), ``message``, ``event``, ``subscriptionId``,
``nonce``, ``trace_id``, ``form``, ``certificate_sha256``, ``forward`` (``{url, status,
error}`` or null), ``rotation`` (``{old, new}`` fingerprints or null), ``headers``
(as received; ``Authorization`` and ``Cookie`` redacted) and ``body`` (the raw body as
text; invalid UTF-8 replaced, and then ``body_base64`` holds the exact bytes).

The file is created 0600 (callbacks may carry device identifiers) and appended to; every
line is written with one ``write`` and flushed, so a crash loses at most the line being
written and never interleaves two lines.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, TextIO

from knoxhook.files import open_append


class NdjsonRecorder:
    """Append records to ``path`` (created 0600), one flushed line each."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        fd = open_append(self.path)  # 0600, O_NOFOLLOW, missing parents 0700
        self._file: TextIO = os.fdopen(fd, "a", encoding="utf-8", newline="\n")
        self._lock = threading.Lock()
        if _ends_torn(self.path):  # a crash cut the last line: do not glue onto it
            self._file.write("\n")
            self._file.flush()

    def record(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _ends_torn(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return False
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) != b"\n"


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The records in an NDJSON file (a torn last line, from a crash, is skipped)."""
    records: list[dict[str, Any]] = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records

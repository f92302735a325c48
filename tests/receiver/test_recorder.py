"""The NDJSON recorder: 0600, one flushed line per record, torn lines tolerated."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from knoxhook.receiver.recorder import NdjsonRecorder, read_records


def test_records_are_lines_visible_before_close_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "out" / "callbacks.ndjson"
    recorder = NdjsonRecorder(path)
    recorder.record({"verdict": "accepted", "body": "é\n"})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text(encoding="utf-8") == '{"verdict":"accepted","body":"é\\n"}\n'
    recorder.record({"verdict": "rejected"})
    assert [r["verdict"] for r in read_records(path)] == ["accepted", "rejected"]
    recorder.close()


def test_concurrent_writers_never_interleave_and_appends_keep_old_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson"
    path.write_text('{"old": 1}\n{"torn": ', encoding="utf-8")  # a crash mid-line
    recorder = NdjsonRecorder(path)
    threads = [
        threading.Thread(
            target=lambda t=t: [
                recorder.record({"t": t, "i": i, "pad": "x" * 500}) for i in range(200)
            ]
        )
        for t in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    records = read_records(path)
    assert records[0] == {"old": 1}
    assert len(records) == 1 + 800  # the torn line is skipped, nothing else lost

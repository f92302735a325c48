"""The NDJSON recorder: 0600, one flushed line per record, torn lines tolerated."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

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


def test_the_file_is_rotated_past_its_cap_keeping_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "r.ndjson"
    recorder = NdjsonRecorder(path, max_bytes=1000, keep=2)
    for i in range(40):
        recorder.record({"i": i, "pad": "x" * 80})
    recorder.close()
    assert path.stat().st_size <= 1000
    assert (tmp_path / "r.ndjson.1").exists()
    assert (tmp_path / "r.ndjson.2").exists()
    assert not (tmp_path / "r.ndjson.3").exists()
    newest = [r["i"] for r in read_records(path)]
    assert newest[-1] == 39
    older = [r["i"] for r in read_records(tmp_path / "r.ndjson.1")]
    assert older[-1] == newest[0] - 1  # nothing lost between the two files
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_refusals_are_rate_limited_per_source_and_the_skipped_ones_counted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.ndjson"
    recorder = NdjsonRecorder(path, refusals_per_second=5)
    for i in range(100):
        recorder.record({"i": i}, source="203.0.113.9")
    recorder.record({"other": True}, source="198.51.100.1")  # another source is not held up
    recorder.record({"accepted": True})  # no source: always recorded
    time.sleep(0.3)  # one token back
    recorder.record({"later": True}, source="203.0.113.9")
    recorder.close()
    records = read_records(path)
    flood = [r for r in records if "i" in r]
    assert len(flood) == 10  # the burst (2 s worth)
    assert {"other": True} in records
    assert {"accepted": True} in records
    assert records[-1] == {"later": True, "suppressed": 90}


def test_a_full_disk_raises_and_the_next_line_is_not_glued_to_a_torn_one(tmp_path: Path) -> None:
    recorder = NdjsonRecorder("/dev/full")
    with pytest.raises(OSError, match="No space left on device"):
        recorder.record({"verdict": "accepted"})
    recorder.close()


def _all_records(tmp_path: Path, name: str) -> list[dict[str, object]]:
    """Every record of FILE and its rotations, oldest first (FILE.N ... FILE.1, FILE)."""

    def age(path: Path) -> int:
        return int(path.suffix[1:]) if path.suffix[1:].isdigit() else 0

    files = sorted(tmp_path.glob(name + "*"), key=age, reverse=True)
    return [r for f in files for r in read_records(f)]


def test_two_writers_of_one_file_rotate_it_once_and_follow_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``listen --workers 2 --record FILE``: each process has its own recorder on FILE.
    When one rotates, the other notices (at its next check) and writes to the new FILE;
    the file is never rotated twice for one crossing of the cap, and no line is lost."""
    from knoxhook.receiver import recorder as module

    monkeypatch.setattr(module, "FOLLOW_EVERY", 0.0)  # check before every line
    path = tmp_path / "w.ndjson"
    one = NdjsonRecorder(path, max_bytes=2000, keep=50)
    two = NdjsonRecorder(path, max_bytes=2000, keep=50)  # its own open file, as a process
    for i in range(60):
        (one if i % 2 else two).record({"i": i, "pad": "x" * 80})
    one.close()
    two.close()
    records = [r["i"] for r in _all_records(tmp_path, "w.ndjson")]
    assert sorted(records) == list(range(60))  # every line, once
    assert records == sorted(records)  # and in order across FILE.N ... FILE
    sizes = [f.stat().st_size for f in tmp_path.glob("w.ndjson*")]
    assert max(sizes) <= 2000  # each file under its cap: the writers saw each other's lines
    assert min(sizes) > 2000 // 2  # no file emptied by a second rotation


def _write_lines(path: str, tag: int, count: int) -> None:
    from knoxhook.receiver.recorder import NdjsonRecorder

    rec = NdjsonRecorder(path, max_bytes=20_000, keep=200)
    for i in range(count):
        rec.record({"w": tag, "i": i, "pad": "y" * 150})
    rec.close()


def test_two_processes_appending_and_rotating_one_record_lose_nothing(tmp_path: Path) -> None:
    import multiprocessing

    path = tmp_path / "p.ndjson"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_lines, args=(str(path), tag, 800)) for tag in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0]
    records = _all_records(tmp_path, "p.ndjson")
    for tag in (1, 2):
        mine = [r["i"] for r in records if r["w"] == tag]
        assert sorted(mine) == list(range(800))  # none lost, none torn, none doubled
    assert len(list(tmp_path.glob("p.ndjson*"))) <= 201  # within what is kept


def test_a_rotation_that_fails_lets_go_of_its_lock_and_the_next_line_is_written(
    tmp_path: Path,
) -> None:
    """A rename refused mid-rotation (here FILE.2 is a directory): that line fails
    (the receiver answers 503), the file lock is let go, so another writer of the file
    is not stuck waiting for it on its event loop, and this one writes again."""
    path = tmp_path / "f.ndjson"
    one = NdjsonRecorder(path, max_bytes=300, keep=2)
    two = NdjsonRecorder(path, max_bytes=10**6, keep=2)
    one.record({"i": 0, "pad": "x" * 200})
    (tmp_path / "f.ndjson.1").write_text("old\n")
    (tmp_path / "f.ndjson.2").mkdir()
    (tmp_path / "f.ndjson.2" / "keep").write_text("a directory in the way")
    with pytest.raises(OSError, match=r"f\.ndjson\.2"):
        one.record({"i": 1, "pad": "x" * 200})  # rotation due: FILE.1 -> FILE.2 fails
    done = threading.Event()

    def other_writer() -> None:
        import fcntl

        assert two._fd is not None
        fcntl.flock(two._fd, fcntl.LOCK_EX)  # what its own rotation would take
        fcntl.flock(two._fd, fcntl.LOCK_UN)
        two.record({"i": 2})
        done.set()

    thread = threading.Thread(target=other_writer, daemon=True)
    thread.start()
    assert done.wait(5), "the other writer waited for a lock nobody holds"
    (tmp_path / "f.ndjson.2" / "keep").unlink()
    (tmp_path / "f.ndjson.2").rmdir()
    one.record({"i": 3, "pad": "x" * 200})  # the rotation works now
    one.close()
    two.close()
    assert [r["i"] for r in read_records(path)] == [3]
    assert [r["i"] for r in read_records(tmp_path / "f.ndjson.1")] == [0, 2]


def test_a_reopen_that_fails_keeps_the_old_file_and_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer rotated the file, and the path is briefly a symbolic link (never
    followed): that line fails, the old descriptor is kept, and once the path is a file
    again the next line goes to it (it did not recover before: every line failed)."""
    from knoxhook.receiver import recorder as module

    monkeypatch.setattr(module, "FOLLOW_EVERY", 0.0)
    path = tmp_path / "s.ndjson"
    rec = NdjsonRecorder(path)
    rec.record({"i": 0})
    os.replace(path, tmp_path / "s.ndjson.1")  # "another process rotated it"
    (tmp_path / "elsewhere").write_text("")
    os.symlink(tmp_path / "elsewhere", path)
    with pytest.raises(OSError, match="symbolic link"):
        rec.record({"i": 1})
    path.unlink()
    rec.record({"i": 2})
    rec.close()
    assert [r["i"] for r in read_records(path)] == [2]
    assert [r["i"] for r in read_records(tmp_path / "s.ndjson.1")] == [0]
    assert (tmp_path / "elsewhere").read_text() == ""  # the link was never written through

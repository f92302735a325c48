"""What ``knoxhook listen`` prints: one line per callback and delivery (human, or JSON
lines with ``--json``), the counts, and what happens when stdout goes away."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

from knoxhook import jsonline
from knoxhook.cli import common, display, listen_handoff

if TYPE_CHECKING:
    from rich.console import Console

    from knoxhook.receiver.app import Verdict


class HumanLines:
    """One human line per verdict. The colours are rendered by the console once (its
    colour system, ``NO_COLOR``...), not through rich's markup parser per callback (that
    cost more than verifying the callback); every value from the wire goes through
    ``display.one_line``, so an escape sequence in it stays inert."""

    def __init__(self, console: Console) -> None:
        self.green = _paint(console, "green")
        self.red = _paint(console, "red")

    def line(self, verdict: Verdict) -> str:
        e = _inert
        time = verdict.received_at[11:19]
        if verdict.accepted:
            on, off = self.green
            text = (
                f"{time} {on}accepted{off} {e(verdict.event)} "
                f"subscription={e(verdict.subscription_id)} nonce={e(verdict.nonce)} "
                f"form={e(verdict.form)}"
            )
        else:
            on, off = self.red
            label = {502: "forward_failed", 503: "unavailable"}.get(verdict.status, "rejected")
            text = f"{time} {on}{label} {verdict.status}{off} {e(verdict.reason)}: "
            text += e(verdict.message)
        if verdict.forward is not None:
            text += " -> " + e(_handed(verdict.forward))
        return text


def _inert(value: object) -> str:
    return display.one_line(str(value))


def _paint(console: Console, style: str) -> tuple[str, str]:
    """What ``console`` writes before and after a text in ``style`` ("", "" without colour)."""
    with console.capture() as capture:
        console.print("X", style=style, end="", markup=False, highlight=False)
    before, _, after = capture.get().partition("X")
    return before, after


def _handed(forward: dict[str, Any]) -> str:
    """Where a callback went: ``outbox #12``, ``stream NAME ID``, ``app 202``."""
    if forward.get("mode") == "outbox":
        return f"outbox #{forward['id']}" + (" (already queued)" if forward["duplicate"] else "")
    if forward.get("mode") == "stream":
        already = " (already in the stream)" if forward.get("duplicate") else ""
        return f"stream {forward['stream']} {forward['id']}{already}"
    return f"app {forward['status'] if forward['status'] is not None else forward['error']}"


VERDICTS = ("accepted", "forward_failed", "unavailable", "rejected")
DELIVERIES = ("delivered", "dead_lettered")  # the outbox's, after the answer


class Printer:
    """Prints one line per callback (JSON lines with --json) and keeps the counts.

    When stdout goes away (``listen --json | head -2``), nothing it prints can change an
    HTTP answer: if stdout was the only output (no --record, no --forward-to), the
    listener stops cleanly (exit 0, in-flight callbacks answered); otherwise it keeps
    serving and stops printing. ``stop`` is set then, and after ``max_callbacks``
    accepted callbacks."""

    def __init__(
        self,
        fmt: common.OutputFormat,
        stop: threading.Event,
        *,
        max_callbacks: int | None = None,
        stdout_is_the_point: bool = True,
    ) -> None:
        self.json = fmt in (common.OutputFormat.JSON, common.OutputFormat.NDJSON)
        self.counts = dict.fromkeys(VERDICTS + DELIVERIES, 0)
        self.stop = stop
        self.max_callbacks = max_callbacks
        self.stdout_is_the_point = stdout_is_the_point
        self.stdout_closed = False
        self._lock = threading.Lock()
        self._human = None if self.json else HumanLines(common.console())

    def event(self, kind: str, **fields: Any) -> None:
        if self.json:
            self._write(jsonline.dumps({"kind": kind, **fields}) + b"\n")

    def __call__(self, verdict: Verdict) -> None:
        with self._lock:
            self.counts[verdict.verdict] += 1
            if self.max_callbacks is not None and self.counts["accepted"] >= self.max_callbacks:
                self.stop.set()
        if verdict.rotation is not None:
            rotation = verdict.rotation
            common.info(
                f"certificate refreshed after a failed signature: old {rotation['old']} -> "
                f"new {rotation['new'] or rotation.get('error')}"
            )
        if self.json:  # the record's line, not encoded again
            self._write(jsonline.with_first("kind", "callback", verdict.record_line()) + b"\n")
        elif self._human is not None:
            self._write(self._human.line(verdict) + "\n")

    def delivery(self, event: dict[str, Any]) -> None:
        """An outbox delivery attempt (delivered, retry, dead_lettered)."""
        with self._lock:
            if event["outcome"] in self.counts:
                self.counts[event["outcome"]] += 1
        if self.json:
            self.event("delivery", **{k: v for k, v in event.items() if k != "kind"})
        else:
            from datetime import UTC, datetime

            now = datetime.now(UTC).strftime("%H:%M:%S")
            self._write(listen_handoff.delivery_line(event, now) + "\n")

    def _write(self, data: str | bytes) -> None:
        """One line to stdout, flushed (a JSON line as UTF-8 bytes, straight to the
        binary buffer when there is one)."""
        with self._lock:
            if self.stdout_closed:
                return
            try:
                stream: Any = sys.stdout
                if isinstance(data, bytes):
                    buffer = getattr(stream, "buffer", None)
                    if buffer is None:
                        data = data.decode("utf-8")
                    else:
                        stream = buffer
                stream.write(data)
                stream.flush()
            except (BrokenPipeError, ValueError):
                self._stdout_gone()

    def _stdout_gone(self) -> None:
        """stdout was closed by its reader: never print again (nor at exit)."""
        import os

        self.stdout_closed = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush is quiet
        os.close(devnull)
        if self.stdout_is_the_point:
            common.info("stdout was closed: stopping")
            self.stop.set()
        else:
            common.info("stdout was closed: still serving (see --record), no longer printing")

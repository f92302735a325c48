"""A closed stdout (``knoxhook demo | head -1``): the command stops quietly, exit 0.

The reader of the pipe has what it wanted, so this is not a failure: nothing is printed
and the exit code is 0 (``EXIT_CODE``), so ``set -o pipefail`` scripts that cut the
output short (``| head``, ``| grep -q``) keep working. The rest of the output is
discarded: stdout is pointed at /dev/null, so the interpreter's final flush cannot fail
either (Python's advice, docs.python.org/3/library/signal.html#note-on-sigpipe).

It reaches the error boundary (``cli/main.py``) in two shapes: a ``BrokenPipeError``
from a plain write, or the ``SystemExit(1)`` that rich's ``Console.on_broken_pipe``
raises while handling one. ``reader_gone`` tells both apart from anything else: a
``BrokenPipeError`` counts only when stdout really is a pipe with no reader (not a
socket's, which is a network failure). Whatever the command started (the demo's
emulator and receiver) is stopped by its own ``with`` blocks as the exception passes.
"""

from __future__ import annotations

import os
import sys

EXIT_CODE = 0


def reader_gone(exc: BaseException) -> bool:
    """Is ``exc`` what a write to a stdout whose reader has gone raises?"""
    if isinstance(exc, SystemExit):  # rich: SystemExit(1) raised handling BrokenPipeError
        return exc.code == 1 and isinstance(exc.__context__, BrokenPipeError)
    return isinstance(exc, BrokenPipeError) and _stdout_has_no_reader()


def _stdout_has_no_reader() -> bool:
    try:
        import select

        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)  # POLLERR/POLLHUP are always reported
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows), no fileno, closed
        return True  # cannot tell: a BrokenPipeError that reached main() came from output


def stop_quietly() -> int:
    """Point stdout at /dev/null (nothing more is written, nor at exit); the exit code."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (AttributeError, OSError, ValueError):  # no real stdout: nothing to flush
        pass
    return EXIT_CODE

"""A console-script entry that answers ``knoxhook --version`` without importing typer.

``import typer`` is most of a knoxhook start-up (~60-140 ms here, benchmarks/README.md),
more than Debian's whole ``gh --version`` (~80 ms). ``--version`` alone is answered here
with the line ``knoxhook.cli.main`` prints (``knoxhook X.Y.Z``); every other command
line goes to ``knoxhook.cli.main.main`` unchanged. So do completion requests, but for
the common ones, which ``cli/completion_fast.py`` answers from a generated table.
pyproject.toml's ``[project.scripts]`` reads ``knoxhook = "knoxhook.cli.entry:main"``.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    if os.environ.get("_KNOXHOOK_COMPLETE"):  # a shell asks: the common requests, no typer
        from knoxhook.cli.completion_fast import answer

        if answer():
            return
    elif sys.argv[1:] == ["--version"]:
        from knoxhook import __version__

        sys.stdout.write(f"knoxhook {__version__}\n")
        sys.stdout.flush()
        return
    from knoxhook.cli.main import main as run

    run()

"""A console-script entry that answers ``knoxhook --version`` without importing typer.

``import typer`` is most of a knoxhook start-up (~60-140 ms here, benchmarks/README.md),
more than Debian's whole ``gh --version`` (~80 ms). ``--version`` alone is answered here
with the line ``knoxhook.cli.main`` prints (``knoxhook X.Y.Z``); every other command
line goes to ``knoxhook.cli.main.main`` unchanged. It takes effect once pyproject.toml's
``[project.scripts]`` reads ``knoxhook = "knoxhook.cli.entry:main"``.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from knoxhook import __version__

        sys.stdout.write(f"knoxhook {__version__}\n")
        sys.stdout.flush()
        return
    from knoxhook.cli.main import main as run

    run()

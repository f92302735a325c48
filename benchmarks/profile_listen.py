"""Profile `knoxhook listen` under load: cProfile on the event-loop thread.

Runs ``knoxhook listen ARGS...`` in this process with uvicorn's server thread under
cProfile (the worker threads of ``asyncio.to_thread`` are not profiled: their cost
shows as the loop's waits), and writes the stats to ``--out`` when it stops (SIGTERM).
Load it from another process (``bench_listen.py``'s wrk script, or any client)::

    uv run python benchmarks/profile_listen.py --out /tmp/listen.prof -- --cert knox.pem ...
    uv run python -m pstats /tmp/listen.prof   # then: sort tottime, stats 30
"""

from __future__ import annotations

import cProfile
import sys
from typing import Any


def main() -> int:
    args = sys.argv[1:]
    out = "listen.prof"
    if args[:1] == ["--out"]:
        out, args = args[1], args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    import uvicorn

    run = uvicorn.Server.run

    def profiled(self: Any, *a: Any, **kw: Any) -> None:
        profile = cProfile.Profile()
        try:
            profile.runcall(run, self, *a, **kw)
        finally:
            profile.dump_stats(out)

    uvicorn.Server.run = profiled  # type: ignore[method-assign]
    from knoxhook.cli.main import main as knoxhook

    sys.argv = ["knoxhook", "listen", *args]
    return int(knoxhook() or 0)


if __name__ == "__main__":
    sys.exit(main())

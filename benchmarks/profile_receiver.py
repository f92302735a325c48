"""The receiver's own CPU cost per callback, without HTTP: `CallbackReceiver` driven
in-process through ASGI (32 concurrent callbacks, a JSON line per callback to
/dev/null as `listen --json` prints it), optionally under cProfile.

    uv run python benchmarks/profile_receiver.py [--count 3000] [--store sqlite|memory] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvloop

from knoxhook import jsonline
from knoxhook.receiver.app import CallbackReceiver, StaticCertificates, Verdict
from knoxhook.receiver.nonces import MemoryNonceStore, SqliteNonceStore
from tests.receiver.signing import Signer


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--store", choices=["sqlite", "memory"], default="sqlite")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    knox = Signer.create()
    calls = [knox.callback(nonce=f"n{i}", payload={"i": i}) for i in range(args.count)]
    tmp = tempfile.mkdtemp()
    store: Any = (
        SqliteNonceStore(Path(tmp) / "n.sqlite3") if args.store == "sqlite" else MemoryNonceStore()
    )
    out = open(os.devnull, "wb")  # noqa: SIM115

    def printer(verdict: Verdict) -> None:  # as listen's Printer writes it
        out.write(jsonline.with_first("kind", "callback", verdict.record_line()) + b"\n")
        out.flush()

    rx = CallbackReceiver(StaticCertificates([knox.cert]), nonce_store=store, on_callback=printer)

    async def one(i: int) -> int:
        body, headers = calls[i]
        raw = [(b"host", b"x"), (b"content-length", str(len(body)).encode())]
        raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "path": "/", "raw_path": b"/", "query_string": b"",
            "headers": raw, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
            "scheme": "http", "root_path": "", "state": {},
        }  # fmt: skip
        delivered = False
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                await asyncio.sleep(3600)
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await rx(scope, receive, send)
        return status[0]

    async def run() -> None:
        async with rx.lifespan():
            limit = asyncio.Semaphore(32)

            async def limited(i: int) -> int:
                async with limit:
                    return await one(i)

            cpu, wall = time.process_time(), time.perf_counter()
            answers = await asyncio.gather(*(limited(i) for i in range(args.count)))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        assert set(answers) == {200}, set(answers)
        print(
            f"{args.store}: {cpu / args.count * 1e6:.0f} us CPU, "
            f"{wall / args.count * 1e6:.0f} us wall per callback"
        )

    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(uvloop.run, run())
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
    else:
        uvloop.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())

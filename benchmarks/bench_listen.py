"""Benchmark: `knoxhook listen` accepted callbacks per second vs a bare Starlette endpoint.

Both servers run as subprocesses on 127.0.0.1 on uvicorn, the same way
(``knoxhook.serving``): the baseline is a Starlette endpoint that reads the body and
answers a small JSON object; `listen` verifies each callback (RSA-2048), checks and
stores its nonce in the default durable SQLite store, and answers. This process is the
load: a bounded number of pre-signed callbacks over keep-alive connections from a few
client threads, in alternating rounds. Every `listen` answer must be 200 (all are
valid and fresh). The target ratio is at least 0.5; the script exits 1 below it.

    uv run python benchmarks/bench_listen.py [--count 1500] [--threads 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx2

from tests.receiver.signing import Signer

Callback = tuple[bytes, dict[str, str]]


def serve_baseline() -> None:
    """Child mode: a bare Starlette endpoint on uvicorn; prints its URL, runs until stdin ends."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from knoxhook.serving import serve_in_thread

    async def endpoint(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"status": "accepted"})

    app = Starlette(routes=[Route("/", endpoint, methods=["POST"])])
    with serve_in_thread(app) as server:
        print(json.dumps({"kind": "listening", "url": server.base_url + "/"}), flush=True)
        sys.stdin.read()


def start(cmd: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the first line: {"kind": "listening", "url": ...}
    if not line:
        proc.kill()
        raise SystemExit(f"server did not start: {cmd}")
    return proc, json.loads(line)["url"]


def blast(url: str, callbacks: list[Callback], threads: int) -> tuple[float, dict[int, int]]:
    """Send all callbacks from ``threads`` keep-alive clients; (requests/s, status counts)."""
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    shards = [callbacks[i::threads] for i in range(threads)]

    def client(shard: list[Callback]) -> None:
        local: dict[int, int] = {}
        with httpx2.Client(timeout=30) as http:
            for body, headers in shard:
                code = http.post(url, content=body, headers=headers).status_code
                local[code] = local.get(code, 0) + 1
        with lock:
            for code, n in local.items():
                statuses[code] = statuses.get(code, 0) + n

    workers = [threading.Thread(target=client, args=(shard,)) for shard in shards]
    begin = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=600)
    return len(callbacks) / (time.perf_counter() - begin), statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=1500, help="callbacks per round")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--target", type=float, default=0.5)
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline()
        return 0

    signer = Signer.create()
    total = args.count * args.rounds + 100
    print(f"signing {total} callbacks ...", flush=True)
    callbacks = [signer.callback(nonce=f"bench-{i}", payload={"i": i}) for i in range(total)]
    with tempfile.TemporaryDirectory() as tmp:
        cert = Path(tmp) / "knox.pem"
        cert.write_bytes(signer.pem)
        listen_cmd = [sys.executable, "-m", "knoxhook", "listen", "--port", "0", "--json"]
        listen_cmd += ["--cert", str(cert), "--nonce-db", str(Path(tmp) / "nonces.sqlite3")]
        base, base_url = start([sys.executable, __file__, "--serve-baseline"])
        listen, listen_url = start(listen_cmd)
        # listen prints one JSON line per callback: drain it so the pipe never blocks
        drain = threading.Thread(target=lambda: [None for _ in listen.stdout or ()], daemon=True)
        drain.start()
        try:
            blast(base_url, callbacks[:100], args.threads)  # warm-up
            blast(listen_url, callbacks[:100], args.threads)
            best_base = best_listen = 0.0
            for r in range(args.rounds):
                batch = callbacks[100 + r * args.count : 100 + (r + 1) * args.count]
                rate, _ = blast(base_url, batch, args.threads)
                best_base = max(best_base, rate)
                rate, statuses = blast(listen_url, batch, args.threads)
                best_listen = max(best_listen, rate)
                if statuses != {200: len(batch)}:
                    print(f"listen answered {statuses}, expected 200 for all", file=sys.stderr)
                    return 1
        finally:
            for proc in (base, listen):
                if proc.stdin:
                    proc.stdin.close()
                proc.terminate()
                proc.wait(timeout=30)
    ratio = best_listen / best_base
    print(f"bare Starlette endpoint : {best_base:8.0f} req/s")
    print(f"knoxhook listen accepted: {best_listen:8.0f} callbacks/s")
    print(f"ratio                   : {ratio:8.2f} (target >= {args.target})")
    return 0 if ratio >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())

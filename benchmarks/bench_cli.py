"""Benchmark: CLI start-up and the token cache, as ratios measured in the same run.

1. ``knoxhook --help`` vs ``python -c "import typer"``: target ratio <= 1.3.
2. ``knoxhook subscriptions list --json`` with a cached token vs a minimal httpx2
   script making the same GET (same token, same emulator): target ratio <= 1.3.
3. 20 sequential ``subscriptions list`` commands fetch exactly 1 token (emulator stats).
4. 12 concurrent ``subscriptions list`` commands on a cold cache fetch exactly 1 token.
5. ``knoxhook --version`` (and, for information, ``knoxhook.cli.entry`` run directly)
   and 6. a bash completion request (``knoxhook subscribe --event KDMS_<TAB>``, answered
   by the console script from cli/completion_table.py) vs Debian's ``gh --version``:
   target ratio <= 1.0 (issue 9, item 2). When
   ``gh`` is missing the benchmark installs it with ``apt-get install -y gh`` (as root,
   saying so on stderr), or skips these two with a message (``--no-install``).

Each timing is the best wall time of ``--runs`` fresh processes (median and CPU time are
printed too), baseline and measured alternating so both share whatever else the machine
is doing. Bytecode caching is on (an installed package has compiled ``.pyc`` files),
unless ``--no-bytecode``. The emulator runs in this
process on 127.0.0.1; config, cache and keyring are isolated in a temp dir. The token
reaches the baseline script through the environment, never argv. Exits 1 when a target
is missed (and, for start-up, prints the slowest imports of ``knoxhook --help``).

    uv run python benchmarks/bench_cli.py [--runs 15] [--target 1.3] [--json]
        [--no-install] [--only-gh]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx2

from knoxhook import wire
from knoxhook.emulator.testing import EmulatorHandle, running_emulator

PY = sys.executable
# The installed console script, as users run it (``python -m`` adds runpy, ~4 ms).
_SCRIPT = Path(PY).parent / "knoxhook"
KNOXHOOK = [str(_SCRIPT)] if _SCRIPT.exists() else [PY, "-m", "knoxhook"]
HELP = "knoxhook --help vs import typer"
LIST = "subscriptions list --json (cached token) vs httpx2 GET"
VERSION = "knoxhook --version vs gh --version"
ENTRY = "knoxhook.cli.entry --version (the proposed console script) vs gh --version"
ENTRY_SCRIPT = "from knoxhook.cli.entry import main; main()"  # what the console script runs
COMPLETE = "completion request (subscribe --event KDMS_) vs gh --version"
GH_TARGET = 1.0  # "at most the time of gh --version measured in the same run"
COMPLETION_ENV = {
    "_KNOXHOOK_COMPLETE": "complete_bash",  # what `knoxhook completion bash` makes bash send
    "COMP_WORDS": "knoxhook subscribe --event KDMS_",
    "COMP_CWORD": "3",
}
BASELINE_GET = (
    "import os, sys, httpx2\n"
    "r = httpx2.get(os.environ['BENCH_URL'], headers={'Authorization': 'Bearer ' + "
    "os.environ['BENCH_TOKEN'], 'Accept': 'application/json'})\n"
    "r.raise_for_status()\n"
    "sys.stdout.write(r.text)\n"
)


def run(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) for one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, timeout=120, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}... failed: {result.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


@dataclass
class Timing:
    """Wall-clock median and best, and median CPU time, in milliseconds."""

    median_ms: float
    best_ms: float
    cpu_ms: float
    worst_ms: float

    @classmethod
    def of(cls, samples: list[tuple[float, float]]) -> Timing:
        walls = [w for w, _ in samples]
        return cls(
            statistics.median(walls) * 1000,
            min(walls) * 1000,
            statistics.median(c for _, c in samples) * 1000,
            max(walls) * 1000,
        )


def paired(
    baseline: Sequence[str], measured: Sequence[str], env: dict[str, str], runs: int
) -> tuple[Timing, Timing]:
    """Both commands, alternating; one untimed warm-up each (disk cache, .pyc files)."""
    run(baseline, env)
    run(measured, env)
    samples: tuple[list[tuple[float, float]], list[tuple[float, float]]] = ([], [])
    for _ in range(runs):
        samples[0].append(run(baseline, env))
        samples[1].append(run(measured, env))
    return Timing.of(samples[0]), Timing.of(samples[1])


def comparison(name: str, base: Timing, measured: Timing, target: float) -> dict[str, Any]:
    """The judged ratio is best-of-N wall time: the sample least disturbed by other load
    on the machine (as timeit and hyperfine advise); medians and CPU times are shown too."""
    return {
        "name": name,
        "baseline_ms": round(base.best_ms, 1),
        "measured_ms": round(measured.best_ms, 1),
        "ratio": round(measured.best_ms / base.best_ms, 3),
        "median_ratio": round(measured.median_ms / base.median_ms, 3),
        "cpu_ratio": round(measured.cpu_ms / base.cpu_ms, 3),
        "baseline_median_ms": round(base.median_ms, 1),
        "measured_median_ms": round(measured.median_ms, 1),
        "baseline_range_ms": [round(base.best_ms, 1), round(base.worst_ms, 1)],
        "measured_range_ms": [round(measured.best_ms, 1), round(measured.worst_ms, 1)],
        "target": target,
    }


def find_gh(install: bool) -> str | None:
    """Debian's ``gh``, installed with apt-get when missing (root only); None: skip."""
    found = shutil.which("gh")
    if found or not install:
        if not found:
            print("gh is not installed (--no-install): skipping the gh --version baseline",
                  file=sys.stderr)  # fmt: skip
        return found
    if not shutil.which("apt-get") or os.geteuid() != 0:
        print("gh is not installed and apt-get cannot run here (not root): skipping the "
              "gh --version baseline; install Debian's gh to measure it",
              file=sys.stderr)  # fmt: skip
        return None
    print("gh is not installed: running `apt-get install -y --no-install-recommends gh` "
          "(Debian's gh, the baseline of the --version and completion targets)",
          file=sys.stderr)  # fmt: skip
    done = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "gh"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    found = shutil.which("gh")
    if done.returncode != 0 or not found:
        print(f"apt-get install gh failed (exit {done.returncode}): skipping the gh baseline\n"
              + done.stderr[-500:], file=sys.stderr)  # fmt: skip
        return None
    version = subprocess.run([found, "--version"], capture_output=True, text=True,
                             timeout=30, check=False).stdout.splitlines()[:1]  # fmt: skip
    print(f"installed {found}: {' '.join(version)}", file=sys.stderr)
    return found


def against_gh(gh: str, env: dict[str, str], runs: int) -> list[dict[str, Any]]:
    """``knoxhook --version`` and a completion request, each paired with ``gh --version``."""
    results = []
    for name, argv, extra in (
        (VERSION, [*KNOXHOOK, "--version"], {}),
        (ENTRY, [PY, "-c", ENTRY_SCRIPT, "--version"], {}),
        (COMPLETE, list(KNOXHOOK), COMPLETION_ENV),
    ):
        both = {**env, **extra}  # gh ignores the completion variables
        gh_t, ours = paired([gh, "--version"], argv, both, runs)
        results.append(comparison(name, gh_t, ours, GH_TARGET))
    return results


def slowest_imports(env: dict[str, str], top: int = 12) -> list[str]:
    result = subprocess.run(
        [PY, "-X", "importtime", "-m", "knoxhook", "--help"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    rows = []
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    return [f"{us / 1000:7.1f} ms {name}" for us, name in sorted(rows, reverse=True)[:top]]


def token_count(
    emu: EmulatorHandle, env: dict[str, str], cache: Path, n: int, concurrent: bool
) -> int:
    """Token requests the emulator saw for ``n`` list commands on a cold cache."""
    shutil.rmtree(cache / "tokens", ignore_errors=True)
    emu.reset_stats()
    argv = [*KNOXHOOK, "subscriptions", "list", "--json"]
    if concurrent:
        procs = [
            subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for _ in range(n)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=180)
            if proc.returncode != 0:
                raise SystemExit(f"a concurrent command failed: {err.decode()[-500:]}")
    else:
        for _ in range(n):
            run(argv, env)
    return int(emu.stats()["token_requests"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command")
    parser.add_argument("--target", type=float, default=1.3, help="max ratio to baseline")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--no-install", action="store_true", help="never apt-get install gh (skip its baseline)"
    )
    parser.add_argument(
        "--only-gh", action="store_true", help="only the --version and completion checks"
    )
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE as set: no .pyc is written (existing ones are used)",
    )
    args = parser.parse_args()
    gh = find_gh(install=not args.no_install)
    load_before = os.getloadavg()

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="knoxhook-bench-") as tmp, running_emulator() as emu:
        home = Path(tmp)
        env = dict(os.environ)
        for name in [k for k in env if k.startswith("KNOXHOOK_")]:
            del env[name]
        env.update(
            KNOXHOOK_CONFIG_DIR=str(home / "config"),
            KNOXHOOK_CACHE_DIR=str(home / "cache"),
            KNOXHOOK_BASE_URL=emu.base_url,
            KNOXHOOK_CLIENT_ID=emu.client_id,
            KNOXHOOK_CLIENT_SECRET=emu.client_secret,
            PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
            BENCH_URL=emu.base_url + wire.subscriptions_path(),
        )
        env.pop("PYTHONPROFILEIMPORTTIME", None)
        if not args.no_bytecode:
            # An installed package has its bytecode compiled (pip, `uv tool install`);
            # without .pyc files every run would time the compiler, not the program.
            env.pop("PYTHONDONTWRITEBYTECODE", None)

        if gh is not None:
            results.extend(against_gh(gh, env, args.runs))
        if args.only_gh:
            return report(results, args, load_before, env)
        typer_t, help_t = paired([PY, "-c", "import typer"], [*KNOXHOOK, "--help"], env, args.runs)
        results.append(comparison(HELP, typer_t, help_t, args.target))

        # a few subscriptions, so the list has something to render
        token = emu.token()
        for i, event in enumerate(
            ("KDMS_DEVICE_UPLOAD", "KG_DEVICE_LOCKED", "KAI_WIFI_CONNECTIONS")
        ):
            httpx2.post(
                emu.base_url + wire.subscriptions_path(),
                json={"url": f"https://example.com/hook/{i}", "events": [event]},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            ).raise_for_status()
        run([*KNOXHOOK, "auth", "token"], env)  # caches a token for the CLI
        cached = next((home / "cache" / "tokens").glob("*.json"))
        env["BENCH_TOKEN"] = json.loads(cached.read_text())["access_token"]
        emu.reset_stats()
        get_t, list_t = paired(
            [PY, "-c", BASELINE_GET],
            [*KNOXHOOK, "subscriptions", "list", "--json"],
            env,
            args.runs,
        )
        listing = comparison(LIST, get_t, list_t, args.target)
        listing.update(token_requests=emu.stats()["token_requests"], target_token_requests=0)
        results.append(listing)
        env.pop("BENCH_TOKEN")

        sequential = token_count(emu, env, home / "cache", 20, concurrent=False)
        results.append({"name": "20 sequential commands", "token_requests": sequential,
                        "target_token_requests": 1})  # fmt: skip
        concurrent = token_count(emu, env, home / "cache", 12, concurrent=True)
        results.append({"name": "12 concurrent commands, cold cache",
                        "token_requests": concurrent, "target_token_requests": 1})  # fmt: skip

        return report(results, args, load_before, env)


def report(
    results: list[dict[str, Any]],
    args: argparse.Namespace,
    load_before: tuple[float, float, float],
    env: dict[str, str],
) -> int:
    """Print the results; 1 when a target is missed."""
    missed = [
        r["name"]
        for r in results
        if r.get("ratio", 0.0) > r.get("target", float("inf"))
        or r.get("token_requests") != r.get("target_token_requests")
    ]
    load = [round(x, 2) for x in (*load_before, *os.getloadavg())]
    if args.json:
        print(json.dumps({"python": sys.version.split()[0], "runs": args.runs,
                          "load_average_before_after": load,
                          "results": results, "missed": missed}, indent=2))  # fmt: skip
    else:
        print(f"python {sys.version.split()[0]}, best of {args.runs} runs each "
              "(median and CPU-time ratios in brackets); load average (1, 5, 15 min) "
              f"before {load[:3]}, after {load[3:]}")  # fmt: skip
        for r in results:
            if "ratio" in r:
                print(f"  {r['name']}: {r['measured_ms']:.0f} ms vs "
                      f"{r['baseline_ms']:.0f} ms = {r['ratio']:.2f}x "
                      f"[median {r['median_ratio']:.2f}x, cpu {r['cpu_ratio']:.2f}x] "
                      f"(target <= {r['target']}x)")  # fmt: skip
                ours, base = r["measured_range_ms"], r["baseline_range_ms"]
                print(f"      median {r['measured_median_ms']:.0f} ms (range {ours[0]:.0f}-"
                      f"{ours[1]:.0f}) vs {r['baseline_median_ms']:.0f} ms (range "
                      f"{base[0]:.0f}-{base[1]:.0f})")  # fmt: skip
            if "target_token_requests" in r:
                print(f"  {r['name']}: {r['token_requests']} token request(s) "
                      f"(target {r['target_token_requests']})")  # fmt: skip
    sys.stdout.flush()
    if HELP in missed or VERSION in missed:
        print("slowest imports of `knoxhook --help` (cumulative):", file=sys.stderr)
        for line in slowest_imports(env):
            print("  " + line, file=sys.stderr)
    if missed:
        print("MISSED: " + "; ".join(missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The audit's passing case, kept passing: no secret in 21 command runs under --debug.

21 representative ``knoxhook --debug ...`` runs, each a child process under ``umask
000`` against the emulator on 127.0.0.1 (a client secret unique to this test), with the
secret given only the supported ways (stdin, the environment, the stored file). For
every run: the client secret, a wrong secret typed by mistake, and every access token
ever issued are absent from stdout (except where printing the token is the command's
job: ``auth token``), from stderr (the --debug trace included), and from the child's
argv as /proc shows it while it runs. Afterwards every directory knoxhook made is 0700,
every file 0600 (``cert fetch --out``: 0644, as it says), and only the secret file and
the token cache hold a secret.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from knoxhook import config, tokencache
from knoxhook.emulator.testing import EmulatorHandle, running_emulator
from tests.security.conftest import Tap, recording_server

SECRET = "cs-" + secrets.token_hex(12)
WRONG = "typo-" + secrets.token_hex(12)
CLIENT = "leak-test-client"
RUN_TIMEOUT = 60.0


@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    out: str
    err: str
    argv: set[str] = field(default_factory=set)  # every /proc cmdline seen while it ran


@pytest.fixture(scope="module")
def knox() -> Iterator[EmulatorHandle]:
    with running_emulator(clients={CLIENT: SECRET}) as handle:
        yield handle


@pytest.fixture(scope="module")
def hook() -> Iterator[Tap]:
    with recording_server({"/cb": (200, b"{}")}) as tap:
        yield tap


class Runner:
    def __init__(self, home: Path, knox: EmulatorHandle) -> None:
        self.cwd = home / "work"
        self.cwd.mkdir(parents=True)
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("KNOXHOOK_", "HTTP"))
        } | {
            "KNOXHOOK_CONFIG_DIR": str(home / "config"),
            "KNOXHOOK_CACHE_DIR": str(home / "cache"),
            "KNOXHOOK_BASE_URL": knox.base_url,
            "KNOXHOOK_CLIENT_ID": CLIENT,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "NO_COLOR": "1",
        }
        self.runs: list[Run] = []
        self.tokens: set[str] = set()

    def __call__(self, *args: str, stdin: str | None = None, **env: str) -> Run:
        proc = subprocess.Popen(
            [sys.executable, "-m", "knoxhook", "--debug", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=self.cwd, env=self.env | env, umask=0, text=True,
        )  # fmt: skip
        argv: set[str] = set()
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        deadline = time.monotonic() + 5.0
        while proc.poll() is None and time.monotonic() < deadline:  # until it has exec-ed
            try:
                seen = cmdline.read_bytes().decode(errors="replace")
            except OSError:
                break
            if "knoxhook" in seen:
                argv.add(seen)
                break
            time.sleep(0.005)
        out, err = proc.communicate(stdin or "", timeout=RUN_TIMEOUT)
        run = Run(args, proc.returncode, out, err, argv)
        self.runs.append(run)
        self._collect_tokens()
        return run

    def _collect_tokens(self) -> None:
        for path in (Path(self.env["KNOXHOOK_CACHE_DIR"]) / tokencache.TOKENS_DIR).glob("*.json"):
            self.tokens.add(json.loads(path.read_text())["access_token"])


def test_no_secret_in_21_debug_runs(knox: EmulatorHandle, hook: Tap, tmp_path: Path) -> None:
    run = Runner(tmp_path / "home", knox)
    body = run.cwd / "body.json"
    body.write_text('{"event": "KDMS_DEVICE_UPLOAD", "subscriptionId": "x"}')

    assert run("auth", "login", "--client-secret-stdin", "--insecure-storage",
               stdin=SECRET + "\n").code == 0  # fmt: skip
    assert run("auth", "status").code == 0
    assert run("auth", "status", "--json").code == 0
    printed = run("auth", "token")
    assert printed.code == 0
    assert printed.out.strip() in run.tokens
    assert run("auth", "token", "--json").code == 0
    assert run("subscriptions", "list").code == 0
    assert run("subscriptions", "list", "--json").code == 0
    made = run("subscribe", "--url", hook.url + "/cb", "--event", "KDMS_DEVICE_UPLOAD", "--json")
    assert made.code == 0, made.err
    sub_id = json.loads(made.out)["subscriptionId"]
    assert run("subscriptions", "get", sub_id).code == 0
    assert run("subscriptions", "update", sub_id, "--add-event", "KG_DEVICE_LOCKED").code == 0
    assert run("trigger", "KDMS_DEVICE_UPLOAD", "--emulator", knox.base_url).code == 0
    assert run("cert", "fetch").code == 0
    assert run("cert", "fetch", "--out", "knox.pem", "--json").code == 0
    assert run("cert", "show").code == 0
    assert run("verify", "--body", "body.json", "--signature", "e30.e30.c2ln",
               "--cert", "knox.pem").code == 8  # fmt: skip
    assert run("events", "--json").code == 0
    assert run("subscriptions", "delete", sub_id, "--yes").code == 0
    # mistakes: a wrong secret typed into a login (refused, nothing saved) ...
    assert run("auth", "login", "--client-secret-stdin", "--insecure-storage",
               "--client-id", CLIENT,
               stdin=WRONG + "\n", KNOXHOOK_PROFILE="other").code == 4  # fmt: skip
    # ... and a network failure while the secret is in the environment
    down = run("subscriptions", "list", KNOXHOOK_BASE_URL="http://127.0.0.1:9",
               KNOXHOOK_CLIENT_SECRET=SECRET)  # fmt: skip
    assert down.code == 7, down.err
    # a CI-style profile: the secret only in the environment, a token fetched for it
    ci = run("auth", "token", KNOXHOOK_PROFILE="ci", KNOXHOOK_CLIENT_SECRET=SECRET)
    assert ci.code == 0, ci.err
    assert ci.out.strip() in run.tokens
    assert run("auth", "logout").code == 0
    assert len(run.runs) == 21
    assert len(run.tokens) >= 1

    for done in run.runs:
        allowed_out = done.args[:2] == ("auth", "token")
        for secret in (SECRET, WRONG, *run.tokens):
            where = f"knoxhook {' '.join(done.args)}"
            assert secret not in done.err, f"{where}: a secret on stderr"
            assert allowed_out or secret not in done.out, f"{where}: a secret on stdout"
            assert not any(secret in argv for argv in done.argv), f"{where}: in argv"
        assert "Traceback" not in done.err
    assert any("> POST" in done.err for done in run.runs)  # --debug really traced
    assert all(done.argv for done in run.runs), "a child ended before /proc was read"

    home = tmp_path / "home"
    made_by_knoxhook = [home / "config", home / "cache"]
    for root in made_by_knoxhook:
        for path in [root, *root.rglob("*")]:
            kind = "dir" if path.is_dir() else "file"
            expected = 0o700 if kind == "dir" else 0o600
            assert stat.S_IMODE(os.lstat(path).st_mode) == expected, path
            if kind == "file":
                data = path.read_bytes()
                holders = {"secrets", tokencache.TOKENS_DIR}
                if path.parent.name not in holders:
                    for secret in (SECRET, WRONG, *run.tokens):
                        assert secret.encode() not in data, path
    assert stat.S_IMODE((run.cwd / "knox.pem").stat().st_mode) == 0o644
    assert not (home / "config" / "secrets").exists() or not any(
        WRONG in p.read_text() for p in (home / "config" / "secrets").iterdir()
    )
    assert config.list_profiles(home / "config") == ["default"]  # the typo saved nothing
    assert len(run.tokens) >= 2  # the login's token and the CI profile's

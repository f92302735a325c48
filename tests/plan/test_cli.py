"""knoxhook plan / apply / import through the real CLI against the emulator, as a CI job
runs them (no TTY, credentials in the environment)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from knoxhook.emulator.testing import EmulatorHandle
from tests.cli.conftest import Cli
from tests.plan.helpers import ids, live, writes, yaml_for

A, B = "https://hooks.example.com/knox/a", "https://hooks.example.com/knox/b"
LOCKED, UNLOCKED, UPLOAD = "KG_DEVICE_LOCKED", "KG_DEVICE_UNLOCKED", "KDMS_DEVICE_UPLOAD"
FIRST = yaml_for({"a": (A, [LOCKED, UNLOCKED]), "b": (B, [UPLOAD])})
MOVED = yaml_for({"a": (A, [LOCKED]), "b": (B, [UPLOAD, UNLOCKED])})


def write(text: str, name: str = "knoxhook.yaml") -> Path:
    path = Path(name)
    path.write_text(text, encoding="utf-8")
    return path


def test_plan_shows_a_plain_diff_and_detailed_exitcode_says_changes(
    cli: Cli, knox: EmulatorHandle
) -> None:
    write(FIRST)
    r = cli("plan", "--detailed-exitcode")
    assert r.code == 2
    assert r.out.splitlines() == [
        "Steps, in the order apply runs them (knoxhook.yaml):",
        "  + 1. create a  [create]",
        f"        url: {A}",
        f"      + {LOCKED}",
        f"      + {UNLOCKED}",
        "  + 2. create b  [create]",
        f"        url: {B}",
        f"      + {UPLOAD}",
        "",
        "Plan: 2 to create, 0 to update, 0 to delete; 0 unchanged.",
    ]
    assert "\x1b[" not in r.out  # no colour off a terminal
    assert cli("plan").code == 0  # without --detailed-exitcode, changes are not an error
    assert writes(knox) == {}


def test_apply_off_a_terminal_needs_yes_and_changes_nothing_without_it(
    cli: Cli, knox: EmulatorHandle
) -> None:
    write(FIRST)
    r = cli("apply")
    assert r.code == 2
    assert r.err == (
        "Error: refusing to apply without confirmation: not a terminal\n"
        "Hint: pass --yes to apply without asking\n"
    )
    assert knox.stats()["requests_total"] == 0
    assert not Path("knoxhook.state.json").exists()


def test_apply_creates_then_a_second_run_is_a_no_op_with_exit_0_and_zero_writes(
    cli: Cli, knox: EmulatorHandle
) -> None:
    write(FIRST)
    r = cli("apply", "--yes", "--json")
    assert r.code == 0, r.err
    rows = r.json()
    assert [(x["action"], x["name"], x["outcome"]) for x in rows] == [
        ("create", "a", "done"),
        ("create", "b", "done"),
    ]
    assert [x["subscriptionId"] for x in rows] == [ids(knox)[A], ids(knox)[B]]
    assert r.err == "applied 2 step(s); the state is in knoxhook.state.json\n"
    assert stat.S_IMODE(Path("knoxhook.state.json").stat().st_mode) == 0o600
    knox.reset_stats()
    r = cli("plan", "--detailed-exitcode")
    assert (r.code, r.out) == (0, "No changes: the live subscriptions match knoxhook.yaml.\n")
    r = cli("apply", "--yes", "--json")
    assert (r.code, r.json()) == (0, [])
    assert writes(knox) == {}


def test_plan_json_is_the_documented_document(cli: Cli, knox: EmulatorHandle) -> None:
    write(FIRST)
    cli("apply", "--yes")
    write(MOVED)
    r = cli("plan", "--json", "--detailed-exitcode")
    assert r.code == 2
    doc = r.json()
    assert list(doc) == [
        "format", "version", "file", "state", "prune", "changes", "summary", "steps",
        "unchanged", "matched", "drift", "unmanaged", "notPruned", "desired", "refresh",
    ]  # fmt: skip
    assert (doc["format"], doc["version"], doc["changes"]) == ("knoxhook-plan", 1, True)
    assert doc["summary"] == {"create": 0, "update": 2, "delete": 0, "unchanged": 0, "drift": 0}
    assert doc["steps"][0] == {
        "step": 1,
        "action": "update",
        "phase": "shrink",
        "name": "a",
        "subscriptionId": ids(knox)[A],
        "url": A,
        "events": [LOCKED],
        "before": {"url": A, "events": [LOCKED, UNLOCKED]},
        "add": [],
        "remove": [UNLOCKED],
        "reason": "",
    }
    assert [(s["phase"], s["add"]) for s in doc["steps"]] == [("shrink", []), ("grow", [UNLOCKED])]


def test_a_saved_plan_applies_and_a_stale_one_is_refused_unless_force(
    cli: Cli, knox: EmulatorHandle
) -> None:
    write(FIRST)
    cli("apply", "--yes")
    write(MOVED)
    r = cli("plan", "--out", "plan.json")
    assert r.code == 0
    assert "saved the plan to plan.json" in r.err
    assert stat.S_IMODE(Path("plan.json").stat().st_mode) == 0o600
    write(FIRST)  # the file may change: the saved plan carries its own desired state
    knox.emulator.store.create("https://other.example.com/k", ["KC_DEVICE_STATUS_CHANGE"])
    r = cli("apply", "plan.json", "--yes")
    assert r.code == 2
    assert r.err.splitlines()[0] == "Error: the live subscriptions changed since this plan was made"
    assert live(knox)[A] == {LOCKED, UNLOCKED}
    r = cli("apply", "plan.json", "--yes", "--force")
    assert r.code == 0, r.err
    assert "--force: applying a plan made now" in r.err
    assert live(knox) == {
        A: {LOCKED},
        B: {UPLOAD, UNLOCKED},
        "https://other.example.com/k": {"KC_DEVICE_STATUS_CHANGE"},
    }


def test_a_failed_step_prints_every_step_and_exits_with_its_code_then_apply_converges(
    cli: Cli, knox: EmulatorHandle
) -> None:
    write(FIRST)
    cli("apply", "--yes")
    write(MOVED)
    knox.fault(path=f"/kwn/v1/subscriptions/{ids(knox)[B]}", method="PUT", status=503, count=9)
    r = cli("apply", "--yes", "--json")
    assert r.code == 7
    assert [(x["name"], x["outcome"]) for x in r.json()] == [("a", "done"), ("b", "failed")]
    assert r.json()[1]["error"]["code"] == "network_error"
    error = r.error()
    assert error["code"] == "network_error"
    assert error["message"].startswith("step 2 (update 'b' (+KG_DEVICE_UNLOCKED)) failed: ")
    assert error["hint"] == (
        "the state file records what was done: run `knoxhook apply` again to finish"
    )
    knox.clear_faults()
    r = cli("apply", "--yes", "--json")
    assert r.code == 0
    assert [(x["name"], x["phase"], x["outcome"]) for x in r.json()] == [("b", "grow", "done")]
    assert live(knox) == {A: {LOCKED}, B: {UPLOAD, UNLOCKED}}


def test_prune_from_the_cli_deletes_only_owned(cli: Cli, knox: EmulatorHandle) -> None:
    write(FIRST)
    cli("apply", "--yes")
    other = knox.emulator.store.create("https://other.example.com/k", ["KC_DEVICE_STATUS_CHANGE"])
    write(yaml_for({"a": (A, [LOCKED, UNLOCKED])}))
    r = cli("plan")
    assert f"- b ({ids(knox)[B]}) is no longer in knoxhook.yaml: --prune deletes it" in r.out
    assert f"not managed by knoxhook.yaml (left alone): {other['subscriptionId']}" in r.out
    r = cli("apply", "--prune", "--yes", "--json")
    assert [(x["action"], x["name"]) for x in r.json()] == [("delete", "b")]
    assert set(live(knox)) == {A, "https://other.example.com/k"}


def test_drift_is_printed_apart(cli: Cli, knox: EmulatorHandle) -> None:
    write(FIRST)
    cli("apply", "--yes")
    sid = ids(knox)[A]
    knox.emulator.store.update(sid, None, [LOCKED])
    r = cli("plan", "--detailed-exitcode")
    assert r.code == 2
    assert r.out.splitlines()[:2] == [
        "Drift (changed outside knoxhook since the last apply):",
        f"  ! a ({sid}): -{UNLOCKED}",
    ]
    assert f"      + {UNLOCKED}" in r.out


def test_bad_file_is_a_usage_error_before_any_request(cli: Cli, knox: EmulatorHandle) -> None:
    write("subscriptions:\n  a:\n    url: https://a.example/k\n    events: [KG_DEVICE_LOKED]\n")
    r = cli("plan", "--json")
    assert r.code == 2
    assert r.error()["message"] == (
        "knoxhook.yaml:4: subscription 'a': unknown event 'KG_DEVICE_LOKED'"
        "; did you mean KG_DEVICE_LOCKED, KG_DEVICE_UNLOCKED, KG_DEVICE_ENROLLED?"
    )
    r = cli("plan", "-f", "missing.yaml")
    assert r.code == 2
    assert r.err.startswith("Error: no desired-state file at missing.yaml\n")
    assert knox.stats()["requests_total"] == 0


def test_import_adopts_an_existing_subscription_and_plan_then_owns_it(
    cli: Cli, knox: EmulatorHandle
) -> None:
    sid = knox.emulator.store.create("https://elsewhere.example.com/k", [LOCKED])["subscriptionId"]
    write(yaml_for({"kg": (A, [LOCKED])}))
    r = cli("plan")
    assert r.code == 5
    assert f"KG_DEVICE_LOCKED (wanted by 'kg') is held by {sid}" in r.err
    r = cli("import", "kg", sid, "--json")
    assert r.code == 0, r.err
    assert r.json()["subscriptionId"] == sid
    assert (
        json.loads(Path("knoxhook.state.json").read_text())["subscriptions"]["kg"]["subscriptionId"]
        == sid
    )
    r = cli("apply", "--yes", "--json")
    assert [(x["action"], x["subscriptionId"]) for x in r.json()] == [("update", sid)]
    assert live(knox) == {A: {LOCKED}}
    r = cli("import", "other", "nope")
    assert r.code == 6


def test_generate_writes_a_file_that_plans_to_no_changes(cli: Cli, knox: EmulatorHandle) -> None:
    knox.emulator.store.create(A, [LOCKED, UNLOCKED])
    knox.emulator.store.create(B, [UPLOAD])
    r = cli("plan", "--generate", "-f", "gen.yaml")
    assert r.code == 0, r.err
    assert "wrote gen.yaml (2 subscription(s)) and its state gen.state.json" in r.err
    assert "  a:\n    url: https://hooks.example.com/knox/a\n" in Path("gen.yaml").read_text()
    assert cli("plan", "-f", "gen.yaml", "--detailed-exitcode").code == 0
    r = cli("plan", "--generate", "-f", "gen.yaml")
    assert r.code == 2
    assert r.err.startswith("Error: gen.yaml exists already")


def test_apply_on_a_terminal_shows_the_plan_and_asks(
    cli: Cli, knox: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from knoxhook.cli import common

    monkeypatch.setattr(common, "is_interactive", lambda: True)
    write(FIRST)
    r = cli("apply", stdin=b"n\n")
    assert r.code == 0
    assert "  + 1. create a  [create]" in r.out
    assert "Apply these 2 step(s)? [y/N]" in r.err
    assert r.err.endswith("cancelled: nothing changed\n")
    assert writes(knox) == {}
    r = cli("apply", stdin=b"y\n")
    assert r.code == 0
    assert set(live(knox)) == {A, B}


def test_plan_is_coloured_on_a_terminal_only(knox: EmulatorHandle, tmp_path: Path) -> None:
    """The real program on a pseudo-terminal (stdout), the CLI configured by env."""
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    write(FIRST)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "knoxhook", "plan"],
            stdout=secondary,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=tmp_path,
        )
        os.close(secondary)
        chunks = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # bounded: the program may hang
            ready, _, _ = select.select([primary], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the program closed its end
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        os.close(primary)
        if proc.stderr:
            proc.stderr.close()
    out = b"".join(chunks).decode()
    assert "\x1b[32m" in out  # green: a create
    assert "create a" in out


def test_mistakes_with_paths_are_usage_errors_before_any_request(
    cli: Cli, knox: EmulatorHandle
) -> None:
    write(FIRST)
    Path("a-file").write_text("")
    r = cli("plan", "--out", ".")
    assert (r.code, r.err) == (
        2, "Error: --out .: a directory; give a file name such as plan.json\n"
    )  # fmt: skip
    r = cli("apply", "knoxhook.yaml", "--yes")
    assert r.code == 2
    assert r.err.startswith("Error: knoxhook.yaml is not a knoxhook plan: ")
    assert r.err.endswith(
        "Hint: PLAN.json is what `plan --out` saved; give a desired-state file with -f FILE\n"
    )
    r = cli("apply", "--yes", "--state", "a-file/knoxhook.state.json")
    assert r.code == 2
    assert r.err.startswith("Error: cannot write the state file a-file/knoxhook.state.json: ")
    assert knox.stats()["requests_total"] == 0
    cli("plan", "--out", "plan.json")
    r = cli("apply", "plan.json", "--prune", "--yes")
    assert r.code == 2
    assert r.err.startswith("Error: --prune goes with `plan --out`: a saved plan says whether")
    r = cli("apply", "plan.json", "-f", "knoxhook.yaml")
    assert (r.code, r.err) == (2, "Error: give FILE (-f) or PLAN.json, not both\n")

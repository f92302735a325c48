"""`subscribe` and `subscriptions list|get|update|delete` against the emulator on 127.0.0.1."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.cli.conftest import run

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle

SUBS = "/kwn/v1/subscriptions"
CB = "https://hooks.example.com/knox"


def requests(knox: EmulatorHandle, key: str) -> int:
    count: int = knox.stats()["requests"].get(key, 0)
    return count


def create(capsys: pytest.CaptureFixture[str], *events: str, url: str = CB) -> dict[str, Any]:
    args = ["subscribe", "--url", url, "--json"]
    for event in events:
        args += ["--event", event]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def listed(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code, out, err = run(capsys, "subscriptions", "list", "--json")
    assert code == 0, err
    data: list[dict[str, Any]] = json.loads(out)
    return data


# --- subscribe ---------------------------------------------------------------------------


def test_subscribe_prints_the_subscription_object(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    data = create(capsys, "KDMS_DEVICE_UPLOAD", "kg_device_locked")
    assert list(data) == ["subscriptionId", "url", "events", "createdAt", "updatedAt"]
    assert data["url"] == CB
    assert data["events"] == ["KDMS_DEVICE_UPLOAD", "KG_DEVICE_LOCKED"]
    assert listed(capsys) == [data]


def test_subscribe_table_output_and_stderr_summary(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "subscribe", "--url", CB, "-e", "KC_DEVICE_STATUS_CHANGE")
    assert code == 0
    assert "KC_DEVICE_STATUS_CHANGE" in out
    assert "subscriptionId" in out
    assert f"subscribed {CB} to KC_DEVICE_STATUS_CHANGE" in err


def test_subscribe_typo_exits_2_naming_closest_without_any_request(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "subscribe", "--url", CB, "--event", "KDMS_DEVICE_UPLAOD")
    assert code == 2
    assert out == ""
    assert "unknown event 'KDMS_DEVICE_UPLAOD'; did you mean KDMS_DEVICE_UPLOAD" in err
    assert knox.stats()["requests_total"] == 0  # not even a token


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--url", "http://hooks.example.com/k", "-e", "KG_DEVICE_LOCKED"],
            "refusing plain http://",
        ),
        (["--url", "hooks.example.com", "-e", "KG_DEVICE_LOCKED"], "absolute http(s) URL"),
        (["-e", "KG_DEVICE_LOCKED"], "missing --url"),
        (["--url", CB], "at least one event"),
    ],
)
def test_subscribe_bad_input_exits_2_without_any_request(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, "subscribe", *args)
    assert code == 2
    assert message in err
    assert knox.stats()["requests_total"] == 0


def test_subscribe_allow_http_and_loopback_http(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert create(capsys, "KG_DEVICE_LOCKED", url="http://127.0.0.1:9/cb")["url"].startswith(
        "http:"
    )
    code, out, err = run(
        capsys, "subscribe", "--url", "http://hooks.example.com/k", "-e", "KG_DEVICE_UNLOCKED",
        "--allow-http-callback", "--json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["url"] == "http://hooks.example.com/k"
    assert "warning" not in err


RENAMED_WARNING = (
    "warning: `--allow-http` after the command is now `--allow-http-callback` (a plain "
    "http:// callback URL); the global `knoxhook --allow-http` is for Knox's own URLs"
)


def test_subscribe_allow_http_old_spelling_still_works_and_says_its_new_name(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "subscribe", "--url", "http://hooks.example.com/k", "-e", "KG_DEVICE_UNLOCKED",
        "--allow-http", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["url"] == "http://hooks.example.com/k"
    assert [line for line in err.splitlines() if line.startswith("warning:")] == [RENAMED_WARNING]
    sid = json.loads(out)["subscriptionId"]
    code, out, err = run(
        capsys, "subscriptions", "update", sid, "--url", "http://hooks.example.com/k2",
        "--allow-http", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["url"] == "http://hooks.example.com/k2"
    assert RENAMED_WARNING in err.splitlines()


def test_the_global_allow_http_does_not_allow_a_callback_url_and_says_which_flag_does(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "--allow-http", "subscribe", "--url", "http://hooks.example.com/k",
        "-e", "KG_DEVICE_UNLOCKED",
    )  # fmt: skip
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "Error: refusing plain http:// to hooks.example.com: Knox would send device data "
        "unencrypted",
        "Hint: the global --allow-http is for Knox's own URLs; for a callback URL add "
        "--allow-http-callback after the command",
    ]
    assert knox.stats()["requests_total"] == 0
    code, _, err = run(
        capsys, "subscribe", "--url", "http://hooks.example.com/k", "-e", "KG_DEVICE_UNLOCKED"
    )
    assert code == 2
    assert err.splitlines()[-1] == (
        "Hint: use https://, or, if you really mean it, pass --allow-http-callback "
        "(in a desired file: allow_http: true)"
    )


def test_help_tells_the_two_allow_http_flags_apart() -> None:
    env = {**os.environ, "CI": "true", "COLUMNS": "200"}
    sub = subprocess.run(
        [sys.executable, "-m", "knoxhook", "subscribe", "--help"], capture_output=True,
        text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    root = subprocess.run(
        [sys.executable, "-m", "knoxhook", "--help"], capture_output=True, text=True,
        timeout=60, check=False, env=env,
    )  # fmt: skip
    assert sub.returncode == root.returncode == 0
    sub_help, root_help = (" ".join(p.stdout.split()) for p in (sub, root))  # unwrapped
    assert "--allow-http-callback Allow a plain http:// callback URL" in sub_help
    assert "(not the global --allow-http)." in sub_help
    assert "  --allow-http " not in sub.stdout  # the old spelling is hidden
    assert "For a callback URL: subscribe --allow-http-callback." in root_help


def test_subscribe_event_held_by_another_exits_5_naming_the_holder(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = create(capsys, "KDMS_DEVICE_UPLOAD")["subscriptionId"]
    code, out, err = run(
        capsys, "subscribe", "--url", "https://other.example/cb", "-e", "KDMS_DEVICE_UPLOAD"
    )
    assert code == 5
    assert out == ""
    assert "EVENT_ALREADY_SUBSCRIBED" in err
    assert holder in err
    assert len(listed(capsys)) == 1


def test_json_errors_are_json_objects_on_stderr(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "subscribe", "--json", "--url", CB, "-e", "NOPE_EVENT")
    assert code == 2
    assert out == ""
    error = json.loads(err)["error"]
    assert error["code"] == "usage_error"
    assert "NOPE_EVENT" in error["message"]


def test_no_credentials_exits_3(
    capsys: pytest.CaptureFixture[str], emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNOXHOOK_BASE_URL", emulator.base_url)
    code, _, err = run(capsys, "subscriptions", "list")
    assert code == 3
    assert err.startswith("Error: ")


# --- list / get --------------------------------------------------------------------------


def test_list_formats(knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]) -> None:
    a = create(capsys, "KG_DEVICE_LOCKED")
    b = create(capsys, "KE_CAMPAIGN_DELETE", url="https://b.example/cb")
    code, out, _ = run(capsys, "subscriptions", "list", "-o", "ndjson")
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [a, b]
    code, out, _ = run(capsys, "subscriptions", "list", "--output", "yaml")
    assert code == 0
    assert yaml.safe_load(out) == [a, b]
    code, out, _ = run(capsys, "subscriptions", "list", "-o", "table")
    assert code == 0
    assert a["subscriptionId"][:8] in out
    assert "ID" in out
    code, out, _ = run(capsys, "subscriptions", "list")  # piped, not asked for: tsv
    assert code == 0
    assert out.splitlines() == [
        "subscriptionId\turl\tevents\tcreatedAt\tupdatedAt",
        *("\t".join([s["subscriptionId"], s["url"], ",".join(s["events"]),
                     s["createdAt"], s["updatedAt"]]) for s in (a, b)),
    ]  # fmt: skip


def test_list_empty_says_none(knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]) -> None:
    assert listed(capsys) == []
    code, out, err = run(capsys, "subscriptions", "list", "-o", "table")
    assert (code, out) == (0, "")
    assert "(none)" in err
    code, out, err = run(capsys, "subscriptions", "list")  # tsv: the header, no rows
    assert (code, out) == (0, "subscriptionId\turl\tevents\tcreatedAt\tupdatedAt\n")
    assert "(none)" in err


def test_get_known_and_unknown(knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]) -> None:
    sub = create(capsys, "KG_DEVICE_LOCKED")
    code, out, _ = run(capsys, "subscriptions", "get", sub["subscriptionId"], "--json")
    assert code == 0
    assert json.loads(out) == sub
    code, out, err = run(capsys, "subscriptions", "get", "000000000000")
    assert code == 6
    assert out == ""
    assert "SUBSCRIPTION_NOT_FOUND" in err


# --- update ------------------------------------------------------------------------------


def test_update_url_add_and_remove_events(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = create(capsys, "KG_DEVICE_LOCKED")["subscriptionId"]
    base = ["subscriptions", "update", sid, "--json"]
    code, out, _ = run(capsys, *base, "--add-event", "KG_DEVICE_UNLOCKED")
    assert code == 0
    assert json.loads(out)["events"] == ["KG_DEVICE_LOCKED", "KG_DEVICE_UNLOCKED"]
    code, out, _ = run(
        capsys, *base, "--remove-event", "KG_DEVICE_LOCKED", "--url", "https://n.example/"
    )
    assert code == 0
    assert (json.loads(out)["url"], json.loads(out)["events"]) == (
        "https://n.example/",
        ["KG_DEVICE_UNLOCKED"],
    )
    code, out, _ = run(capsys, *base, "--event", "KAI_WIFI_CONNECTIONS", "-e", "KAI_BATTERY_STATUS")
    assert code == 0
    assert json.loads(out)["events"] == ["KAI_WIFI_CONNECTIONS", "KAI_BATTERY_STATUS"]
    assert listed(capsys)[0]["events"] == ["KAI_WIFI_CONNECTIONS", "KAI_BATTERY_STATUS"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "nothing to update"),
        (["--add-event", "KG_DEVICE_LOKED"], 2, "did you mean KG_DEVICE_LOCKED"),
        (["--remove-event", "KG_DEVICE_LOCKED"], 2, "needs at least one event"),
        (["--url", "http://example.com/"], 2, "refusing plain http://"),
    ],
)
def test_bad_update_is_refused_and_changes_nothing(
    knox: EmulatorHandle,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    sub = create(capsys, "KG_DEVICE_LOCKED")
    got, _, err = run(capsys, "subscriptions", "update", sub["subscriptionId"], *args)
    assert got == code
    assert message in err
    assert requests(knox, f"PUT {SUBS}/{{subscriptionId}}") == 0
    assert listed(capsys) == [sub]


def test_update_unknown_id_exits_6(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "subscriptions", "update", "nope", "--add-event", "KG_DEVICE_LOCKED")
    assert code == 6
    assert "no subscription with id 'nope'" in err


# --- delete ------------------------------------------------------------------------------


def test_delete_off_a_tty_needs_yes(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = create(capsys, "KG_DEVICE_LOCKED")
    code, out, err = run(capsys, "subscriptions", "delete", sub["subscriptionId"])
    assert code == 2
    assert "refusing to delete without confirmation: not a terminal" in err
    assert "--yes" in err
    assert listed(capsys) == [sub]
    code, out, err = run(
        capsys, "subscriptions", "delete", sub["subscriptionId"], "--yes", "--json"
    )
    assert code == 0
    assert json.loads(out) == [
        {
            "subscriptionId": sub["subscriptionId"],
            "deleted": True,
            "outcome": "deleted",
            "error": None,
        }
    ]
    assert "deleted 1 subscription(s)" in err
    assert listed(capsys) == []


def test_delete_all(knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]) -> None:
    ids = {create(capsys, e)["subscriptionId"] for e in ("KG_DEVICE_LOCKED", "KE_CAMPAIGN_DELETE")}
    code, out, _ = run(capsys, "subscriptions", "delete", "--all", "-y", "--json")
    assert code == 0
    assert {row["subscriptionId"] for row in json.loads(out)} == ids
    assert listed(capsys) == []
    code, out, err = run(capsys, "subscriptions", "delete", "--all", "--yes", "--json")
    assert (code, json.loads(out)) == (0, [])
    assert "no subscriptions to delete" in err


def test_delete_unknown_id_exits_6_and_deletes_nothing(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = create(capsys, "KG_DEVICE_LOCKED")
    code, _, err = run(capsys, "subscriptions", "delete", sub["subscriptionId"], "ghost", "--yes")
    assert code == 6
    assert "no such subscription: ghost (nothing deleted)" in err
    assert listed(capsys) == [sub]
    assert requests(knox, f"DELETE {SUBS}/{{subscriptionId}}") == 0


@pytest.mark.parametrize(
    ("args", "message"), [([], "give the subscription ids"), (["x", "--all"], "not both")]
)
def test_delete_needs_ids_or_all(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, "subscriptions", "delete", "--yes", *args)
    assert code == 2
    assert message in err
    assert knox.stats()["requests_total"] == 0


def _delete_on_a_tty(knox: EmulatorHandle, sid: str, answer: bytes) -> tuple[int, str, str]:
    """Run `subscriptions delete ID` with stdin/stderr on a pseudo-terminal; answer the prompt."""
    import pty

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "knoxhook", "subscriptions", "delete", sid],
        stdin=slave, stderr=slave, stdout=subprocess.PIPE, env=env,
    )  # fmt: skip
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    answered = False
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and b"[y/N]" in seen:
                os.write(master, answer + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        out = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        os.close(master)
    return proc.returncode, out.decode(), seen.decode(errors="replace")


def test_delete_on_a_tty_asks_and_respects_the_answer(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = create(capsys, "KG_DEVICE_LOCKED")["subscriptionId"]
    code, out, term = _delete_on_a_tty(knox, sid, b"n")
    assert code == 0
    assert f"Delete 1 subscription(s): {sid}? [y/N]" in term
    assert "cancelled: nothing deleted" in term
    assert len(listed(capsys)) == 1
    code, out, term = _delete_on_a_tty(knox, sid, b"y")
    assert code == 0
    assert sid in out
    assert listed(capsys) == []


# --- faults ------------------------------------------------------------------------------


def test_list_survives_429_with_retry_after_and_503(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = create(capsys, "KG_DEVICE_LOCKED")
    knox.fault(path=SUBS, method="GET", status=429, retry_after=1)
    knox.fault(path=SUBS, method="GET", status=503)
    started = time.monotonic()
    assert listed(capsys) == [sub]
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured
    assert requests(knox, f"GET {SUBS}") == 3
    assert knox.stats()["faults_applied"] == 2


def test_list_survives_a_dropped_connection(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    knox.fault(path=SUBS, method="GET", drop=True)
    assert listed(capsys) == []
    assert knox.stats()["faults_applied"] == 1


def test_persistent_503_exits_7_with_a_message(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    knox.fault(path=f"{SUBS}/*", status=503, count=20)
    code, out, err = run(capsys, "subscriptions", "get", "abc")
    assert code == 7
    assert out == ""
    assert "HTTP 503" in err
    assert "attempt(s)" in err


@pytest.mark.parametrize("fault", [{"drop": True}, {"status": 503}, {"status": 502}])
def test_ambiguous_create_makes_no_duplicate(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str], fault: dict[str, Any]
) -> None:
    knox.fault(path=SUBS, method="POST", after=True, **fault)
    sub = create(capsys, "KDMS_DEVICE_UPLOAD")
    assert listed(capsys) == [sub]
    assert requests(knox, f"POST {SUBS}") == 1  # found by looking, not created again


def test_create_that_failed_before_the_handler_is_retried_once(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    knox.fault(path=SUBS, method="POST", drop=True)  # handler never ran
    sub = create(capsys, "KDMS_DEVICE_UPLOAD")
    assert listed(capsys) == [sub]
    assert requests(knox, f"POST {SUBS}") == 2


def test_token_expiring_mid_session_is_renewed_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from knoxhook.emulator.testing import running_emulator

    offset = [0.0]
    with running_emulator(now=lambda: time.time() + offset[0]) as emu:
        monkeypatch.setenv("KNOXHOOK_BASE_URL", emu.base_url)
        monkeypatch.setenv("KNOXHOOK_CLIENT_ID", emu.client_id)
        monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", emu.client_secret)
        create(capsys, "KG_DEVICE_LOCKED")  # caches a token
        offset[0] = 3600.0  # the server now considers that token expired
        assert len(listed(capsys)) == 1
        stats = emu.stats()
        assert stats["token_requests"] == 2
        assert stats["unauthorized"] >= 1


# --- as a real process -------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "knoxhook", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_subprocess_subscribe_list_delete(knox: EmulatorHandle) -> None:
    made = _cli("subscribe", "--url", CB, "--event", "KE_DEVICE_STATUS_CHANGE", "--json")
    assert made.returncode == 0, made.stderr
    sid = json.loads(made.stdout)["subscriptionId"]
    typo = _cli("subscribe", "--url", CB, "--event", "KE_DEVICE_STATUS_CHANG")
    assert typo.returncode == 2
    assert "did you mean KE_DEVICE_STATUS_CHANGE" in typo.stderr
    assert "Traceback" not in typo.stderr
    got = _cli("subscriptions", "list", "--json")
    assert [s["subscriptionId"] for s in json.loads(got.stdout)] == [sid]
    gone = _cli("subscriptions", "delete", sid, "--yes")
    assert gone.returncode == 0
    assert knox.emulator.store.all() == []
    assert knox.client_secret not in made.stderr + got.stderr + gone.stderr


def test_delete_whose_answer_was_lost_still_succeeds(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = create(capsys, "KG_DEVICE_LOCKED")
    knox.fault(path=f"{SUBS}/*", method="DELETE", drop=True, after=True)
    code, out, err = run(capsys, "subscriptions", "delete", sub["subscriptionId"], "-y", "--json")
    assert code == 0, err
    assert json.loads(out) == [
        {
            "subscriptionId": sub["subscriptionId"],
            "deleted": True,
            "outcome": "already_gone",
            "error": None,
        }
    ]
    assert requests(knox, f"DELETE {SUBS}/{{subscriptionId}}") == 2  # retried, then 404
    assert listed(capsys) == []


def test_subscribe_persistent_503_exits_7_and_creates_nothing(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    knox.fault(path=SUBS, method="POST", status=503, count=20)
    code, out, err = run(capsys, "subscribe", "--url", CB, "-e", "KDMS_DEVICE_UPLOAD")
    assert code == 7
    assert out == ""
    assert "could not create the subscription after 3 attempts" in err
    assert requests(knox, f"POST {SUBS}") == 3
    assert knox.emulator.store.all() == []


def test_subscribe_with_a_wrong_secret_exits_4(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", "not-the-secret")
    code, out, err = run(capsys, "--json", "subscribe", "--url", CB, "-e", "KDMS_DEVICE_UPLOAD")
    assert code == 4
    assert out == ""
    assert json.loads(err)["error"]["code"] == "auth_refused"
    assert "not-the-secret" not in err
    assert requests(knox, f"POST {SUBS}") == 0

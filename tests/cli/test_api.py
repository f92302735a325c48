"""`knoxhook api`: raw authenticated requests to the emulator, exit codes by status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.cli.conftest import Cli, run

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle

SUBS = "/kwn/v1/subscriptions"
CB = "https://hooks.example.com/knox"
BODY = json.dumps({"url": CB, "events": ["KDMS_DEVICE_UPLOAD"]})


def _requests(knox: EmulatorHandle, key: str) -> int:
    counts: dict[str, int] = knox.stats()["requests"]
    return counts.get(key, 0)


def test_post_from_a_file_creates_and_get_lists_it_raw_off_a_tty(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = tmp_path / "sub.json"
    body.write_text(BODY)
    code, out, err = run(capsys, "api", "POST", SUBS, "--data", f"@{body}")
    assert code == 0, err
    created = json.loads(out)
    assert created["url"] == CB
    assert created["events"] == ["KDMS_DEVICE_UPLOAD"]
    code, out, err = run(capsys, "api", "get", SUBS)
    assert code == 0, err
    assert err == ""
    assert "\n  " not in out  # raw as received, not re-indented, when not a terminal
    assert created["subscriptionId"] in out
    assert _requests(knox, f"POST {SUBS}") == 1


def test_data_from_stdin(knox: EmulatorHandle, cli: Cli) -> None:
    result = cli("api", "POST", SUBS, "-d", "-", stdin=BODY.encode())
    assert result.code == 0, result.err
    assert result.json()["events"] == ["KDMS_DEVICE_UPLOAD"]


def test_an_unknown_id_exits_6_and_still_prints_the_knox_error_body(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "api", "GET", f"{SUBS}/nope")
    assert code == 6
    assert json.loads(out)  # the Knox error body, for scripts
    assert f"Error: GET {SUBS}/nope: Knox answered 404" in err


def test_a_refused_body_exits_5(knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "api", "POST", SUBS, "--data", '{"url": 1}')
    assert code == 5
    assert out.strip()  # Knox's reason
    assert f"Error: POST {SUBS}: Knox answered 4" in err


def test_wrong_credentials_exit_4(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", "not-the-secret")
    code, out, err = run(capsys, "api", "GET", SUBS)
    assert code == 4
    assert out == ""
    assert "not-the-secret" not in err


def test_a_get_is_retried_through_503_and_a_post_is_not_repeated_after_a_drop(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    knox.fault(path=SUBS, method="GET", status=503)
    code, _, err = run(capsys, "api", "GET", SUBS)
    assert code == 0, err
    assert _requests(knox, f"GET {SUBS}") == 2
    knox.fault(path=SUBS, method="POST", drop=True, after=True)
    code, _, err = run(capsys, "api", "POST", SUBS, "-d", BODY)
    assert code == 7
    assert "may or may not have taken effect" in err
    assert _requests(knox, f"POST {SUBS}") == 1


def test_debug_traces_the_request_without_the_token_or_secret(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--debug", "api", "GET", SUBS, "-H", "X-Extra: yes")
    assert code == 0, err
    assert f"GET {knox.base_url}{SUBS}" in err
    assert "x-extra: yes" in err.lower()
    assert knox.client_secret not in err + out
    assert "Bearer ***" in err or "authorization: ***" in err.lower()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["FETCH", SUBS], "Error: METHOD 'FETCH' is not one of: GET, POST"),
        (["GET", "https://evil.example/x"], "must be a path on the Knox base URL"),
        (["GET", "//evil.example/x"], "must be a path on the Knox base URL"),
        (["GET", SUBS, "-H", "Authorization: Bearer x"], "--header Authorization: knoxhook sets"),
        (["GET", SUBS, "-H", "no-colon"], "--header 'no-colon' is not NAME:VALUE"),
        (["POST", SUBS, "-d", "@/no/such/file"], "--data @/no/such/file: cannot read"),
    ],
)
def test_bad_input_exits_2_before_any_request(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    before = sum(knox.stats()["requests"].values())
    code, out, err = run(capsys, "api", *args)
    assert code == 2
    assert out == ""
    assert said in err
    assert sum(knox.stats()["requests"].values()) == before


def test_a_real_process_pipes_the_body(knox: EmulatorHandle, tmp_path: Path) -> None:
    env = {**os.environ, "KNOXHOOK_CONFIG_DIR": str(tmp_path), "KNOXHOOK_CACHE_DIR": str(tmp_path),
           "KNOXHOOK_BASE_URL": knox.base_url, "KNOXHOOK_CLIENT_ID": knox.client_id,
           "KNOXHOOK_CLIENT_SECRET": knox.client_secret}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "knoxhook", "api", "POST", SUBS, "-d", "-"],
        input=BODY, capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["url"] == CB
    assert result.stderr == ""


def test_on_a_terminal_the_json_body_is_pretty_printed(
    knox: EmulatorHandle, tmp_path: Path
) -> None:
    import pty

    env = {**os.environ, "KNOXHOOK_CONFIG_DIR": str(tmp_path), "KNOXHOOK_CACHE_DIR": str(tmp_path),
           "KNOXHOOK_BASE_URL": knox.base_url, "KNOXHOOK_CLIENT_ID": knox.client_id,
           "KNOXHOOK_CLIENT_SECRET": knox.client_secret}  # fmt: skip
    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "knoxhook", "api", "POST", SUBS, "-d", BODY],
            stdout=follower, stderr=subprocess.PIPE, timeout=60, check=False, env=env,
        )  # fmt: skip
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert result.returncode == 0, result.stderr
    shown = b"".join(chunks).decode().replace("\r\n", "\n")
    assert f'\n  "url": "{CB}"' in shown  # indented: pretty, for a person
    assert json.loads(shown)["events"] == ["KDMS_DEVICE_UPLOAD"]

"""`cert check`: the nightly verdict on the certificate, its exit code and JSON status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.cli.conftest import run
from tests.conftest import SAMSUNG_FIXTURES
from tests.test_certs import SAMSUNG_PIN, valid_cert

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle

PEM_2022 = SAMSUNG_FIXTURES / "samsung-knox-validation-certificate-2022.pem"
PEM_2024 = SAMSUNG_FIXTURES / "samsung-knox-validation-certificate-2024.pem"
OTHER_PIN = "sha256//" + "A" * 43 + "="  # 32 zero bytes: a well-formed pin of no key


def _pem(tmp_path: Path, days_left: int) -> str:
    path = tmp_path / f"in-{days_left}.pem"
    path.write_bytes(valid_cert(days_left=days_left))
    return str(path)


def test_a_certificate_valid_long_enough_with_the_expected_pin_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "cert", "check", "-f", str(PEM_2024), "--min-days", "0",
                         "--expect-pin", f"sha256//{SAMSUNG_PIN}", "--json")  # fmt: skip
    assert code == 0, err
    assert err == ""
    data = json.loads(out)
    assert data["status"] == "ok"
    assert data["pin_matches"] is True
    assert data["problems"] == []
    assert data["spki_sha256"] == SAMSUNG_PIN
    assert data["not_after"] == "2027-09-25T21:19:33Z"


def test_fewer_days_left_than_min_days_exits_8_as_expires_soon(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pem = _pem(tmp_path, 10)
    code, out, err = run(capsys, "cert", "check", "-f", pem, "--min-days", "14", "--json")
    assert code == 8
    assert json.loads(out)["status"] == "expires_soon"
    error = json.loads(err)["error"]
    assert error["code"] == "certificate_expires_soon"
    assert "expires in 10 days" in error["message"]
    assert "fewer than --min-days 14" in error["message"]
    # the same certificate passes a shorter horizon
    code, out, err = run(capsys, "cert", "check", "-f", pem, "--min-days", "10")
    assert code == 0
    assert "ok: valid for 10 more days" in err


def test_an_unexpected_pin_exits_8_as_pin_mismatch_naming_both_pins(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "cert", "check", "-f", str(PEM_2024), "--min-days", "0",
                         "--expect-pin", OTHER_PIN)  # fmt: skip
    assert code == 8
    assert "pin_mismatch" in out  # the table's status row
    assert f"Error: the certificate's public key changed: its pin is sha256//{SAMSUNG_PIN}" in err
    assert OTHER_PIN in err
    # a backup pin beside the right one passes
    code, _, err = run(capsys, "cert", "check", "-f", str(PEM_2024), "--min-days", "0",
                       "--expect-pin", OTHER_PIN, "--expect-pin", SAMSUNG_PIN)  # fmt: skip
    assert code == 0, err


def test_an_expired_certificate_exits_8_as_expired_even_with_the_right_pin(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "cert", "check", "-f", str(PEM_2022),
                         "--expect-pin", SAMSUNG_PIN, "--json")  # fmt: skip
    assert code == 8
    data = json.loads(out)
    assert data["status"] == "expired"
    assert data["pin_matches"] is True
    assert json.loads(err)["error"]["code"] == "certificate_expired"


@pytest.mark.parametrize("pin", ["D0:76:96:32", "sha256//abc", "sha256//" + "A" * 44])
def test_a_malformed_pin_is_a_usage_error(capsys: pytest.CaptureFixture[str], pin: str) -> None:
    code, out, err = run(capsys, "cert", "check", "-f", str(PEM_2024), "--expect-pin", pin)
    assert code == 2
    assert out == ""
    assert f"Error: --expect-pin {pin!r} is not a sha256// public-key pin" in err


def test_min_days_must_not_be_negative(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "cert", "check", "--min-days", "-1")
    assert code == 2
    assert "--min-days" in err


def test_nothing_stored_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "cert", "check")
    assert code == 3
    assert out == ""
    assert "Error: no certificate stored for https://api.samsungknox.com" in err


def test_the_stored_certificate_and_the_remote_one_after_a_key_change(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "cert", "fetch")[0] == 0
    code, out, _ = run(capsys, "cert", "check", "--json")
    assert code == 0
    stored = json.loads(out)
    assert stored["status"] == "ok"
    assert stored["source"].endswith(".pem")
    pin = stored["spki_sha256"]
    knox.set_certificate("rotate-new-key")
    # the stored copy still has the old key; what Knox serves now does not
    assert run(capsys, "cert", "check", "--expect-pin", pin)[0] == 0
    code, out, err = run(capsys, "cert", "check", "--remote", "--expect-pin", pin, "--json")
    assert code == 8
    remote = json.loads(out)
    assert remote["status"] == "pin_mismatch"
    assert remote["source"] == knox.base_url
    assert remote["spki_sha256"] != pin
    assert json.loads(err)["error"]["code"] == "certificate_pin_mismatch"
    assert knox.stats()["requests"]["GET /kwn/v1/downloadCertificate"] == 2


def test_file_and_remote_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "cert", "check", "-f", str(PEM_2024), "--remote")
    assert code == 2
    assert "Error: --file and --remote are exclusive" in err


def test_a_real_process_as_the_nightly_job_runs_it(tmp_path: Path) -> None:
    env = {**os.environ, "KNOXHOOK_CONFIG_DIR": str(tmp_path), "KNOXHOOK_CACHE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "knoxhook", "cert", "check", "-f", _pem(tmp_path, 5)],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == 8
    assert "expires_soon" in result.stdout
    assert "Error: the certificate expires in 5 days" in result.stderr
    assert "Hint: run `knoxhook cert fetch`" in result.stderr
    assert "Traceback" not in result.stderr

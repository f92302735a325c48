"""`cert fetch` and `cert show`: real Samsung certificates, the emulator's, exit codes."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from knoxhook import certs
from knoxhook.config import load_settings
from tests.cli.conftest import run
from tests.conftest import SAMSUNG_FIXTURES
from tests.test_certs import SAMSUNG_PIN, make_cert, valid_cert

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle

PEM_2022 = SAMSUNG_FIXTURES / "samsung-knox-validation-certificate-2022.pem"
PEM_2024 = SAMSUNG_FIXTURES / "samsung-knox-validation-certificate-2024.pem"
KEYS = ["subject", "issuer", "not_before", "not_after", "sha256_fingerprint", "spki_sha256",
        "expired", "days_left"]  # fmt: skip


# --- show --------------------------------------------------------------------------------


def test_show_2024_samsung_certificate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "cert", "show", "--file", str(PEM_2024), "--json")
    assert code == 0
    assert err == ""
    data = json.loads(out)
    assert list(data) == KEYS
    assert data["sha256_fingerprint"].startswith("D0:76:96:32")
    assert data["spki_sha256"] == SAMSUNG_PIN
    assert data["not_after"] == "2027-09-25T21:19:33Z"
    assert data["expired"] is False


def test_show_2022_samsung_certificate_exits_8_as_expired_with_same_pin(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "cert", "show", "--file", str(PEM_2022), "--json")
    assert code == 8
    data = json.loads(out)  # the data is still printed, then the verdict
    assert data["expired"] is True
    assert data["spki_sha256"] == SAMSUNG_PIN
    error = json.loads(err)["error"]
    assert error["code"] == "certificate_error"
    assert "certificate expired on 2025-10-30T05:17:14Z" in error["message"]


def test_show_table_lists_fingerprint_and_pin(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "cert", "show", "-f", str(PEM_2024))
    assert code == 0
    assert "sha256_fingerprint" in out
    assert "D0:76:96:32" in out
    assert SAMSUNG_PIN in out


def test_show_warns_when_under_30_days_left(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pem = tmp_path / "soon.pem"
    pem.write_bytes(valid_cert(days_left=10))
    code, out, err = run(capsys, "cert", "show", "-f", str(pem), "--json")
    assert code == 0
    assert json.loads(out)["days_left"] == 10
    assert "warning: the certificate expires in 10 days" in err


def test_show_not_yet_valid_exits_8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    start = datetime.now(UTC) + timedelta(days=3)
    pem = tmp_path / "future.pem"
    pem.write_bytes(make_cert(not_before=start, not_after=start + timedelta(days=90)))
    code, _, err = run(capsys, "cert", "show", "-f", str(pem))
    assert code == 8
    assert "not valid before" in err


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [(b"hello", 8, "not a certificate"), (None, 2, "cannot read")],
)
def test_show_bad_file(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: bytes | None,
    code: int,
    message: str,
) -> None:
    path = tmp_path / "x.pem"
    if content is not None:
        path.write_bytes(content)
    got, out, err = run(capsys, "cert", "show", "-f", str(path))
    assert got == code
    assert out == ""
    assert message in err


def test_show_without_a_stored_certificate_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "cert", "show")
    assert code == 3
    assert out == ""
    assert "no certificate stored for https://api.samsungknox.com" in err
    assert "knoxhook cert fetch" in err


def test_show_a_chain_shows_the_first(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    chain = tmp_path / "chain.pem"
    chain.write_bytes(PEM_2024.read_bytes() + PEM_2022.read_bytes())
    code, out, err = run(capsys, "cert", "show", "-f", str(chain), "--json")
    assert code == 0
    assert json.loads(out)["sha256_fingerprint"].startswith("D0:76:96:32")
    assert "holds 2 certificates; showing the first" in err


# --- fetch -------------------------------------------------------------------------------


def test_fetch_stores_0600_and_show_reads_it_back(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "cert", "fetch", "--json")
    assert code == 0
    fetched = json.loads(out)
    assert list(fetched) == KEYS
    stored = certs.stored_path(load_settings())
    assert f"stored {stored}" in err
    assert stored.read_bytes() == knox.certificate_pem
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    code, out, _ = run(capsys, "cert", "show", "--json")
    assert (code, json.loads(out)) == (0, fetched)
    assert knox.stats()["requests"]["GET /kwn/v1/downloadCertificate"] == 1


def test_fetch_out_writes_the_pem_too(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_file = tmp_path / "sub" / "knox.pem"
    code, out, err = run(capsys, "cert", "fetch", "--out", str(out_file))
    assert code == 0
    assert out_file.read_bytes() == knox.certificate_pem
    assert f"wrote {out_file}" in err
    assert "spki_sha256" in out


def test_fetch_says_renewal_for_same_key_and_warns_on_key_change(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, first, _ = run(capsys, "cert", "fetch", "--json")
    assert code == 0
    knox.set_certificate("rotate-same-key")
    code, out, err = run(capsys, "cert", "fetch", "--json")
    assert code == 0
    assert "renewed: a new certificate with the same public key" in err
    assert json.loads(out)["spki_sha256"] == json.loads(first)["spki_sha256"]
    knox.set_certificate("rotate-new-key")
    code, out, err = run(capsys, "cert", "fetch", "--json")
    assert code == 0
    assert "PUBLIC KEY CHANGED (not a renewal)" in err
    assert f"sha256//{json.loads(out)['spki_sha256']}" in err
    assert json.loads(out)["spki_sha256"] != json.loads(first)["spki_sha256"]


def test_fetch_of_an_expired_certificate_exits_8_and_keeps_the_old_one(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "cert", "fetch")[0] == 0
    good = certs.read_stored(load_settings())
    knox.set_certificate("expire")
    code, out, err = run(capsys, "cert", "fetch", "--json")
    assert code == 8
    assert json.loads(out)["expired"] is True
    assert "certificate expired on" in err
    assert certs.read_stored(load_settings()) == good


def test_fetch_survives_a_503_and_fails_7_when_it_persists(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    knox.fault(path="/kwn/v1/downloadCertificate", status=503)
    assert run(capsys, "cert", "fetch")[0] == 0
    knox.fault(path="/kwn/v1/downloadCertificate", drop=True, count=20)
    code, out, err = run(capsys, "cert", "fetch")
    assert code == 7
    assert out == ""
    assert "Error: " in err


def test_fetch_without_credentials_exits_3(
    emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNOXHOOK_BASE_URL", emulator.base_url)
    code, out, _ = run(capsys, "cert", "fetch")
    assert code == 3
    assert out == ""
    assert emulator.stats()["requests_total"] == 0


def test_fetch_with_wrong_secret_exits_4(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", "wrong-secret-value")
    code, out, err = run(capsys, "--debug", "cert", "fetch")
    assert code == 4
    assert out == ""
    assert "client_secret=***" in err  # the --debug trace ran, redacted
    assert "wrong-secret-value" not in err


def test_subprocess_show_expired_exits_8_without_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "knoxhook", "cert", "show", "--file", str(PEM_2022)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 8
    assert "expired" in result.stdout  # the table: expired yes
    assert "Error: certificate expired on 2025-10-30T05:17:14Z" in result.stderr
    assert "Traceback" not in result.stderr


# --- issue 9: defect 6 (messages) and defect 11 (--file -), through a real process -------


def _knox_env(knox: EmulatorHandle) -> dict[str, str]:
    return {
        "KNOXHOOK_BASE_URL": knox.base_url,
        "KNOXHOOK_CLIENT_ID": knox.client_id,
        "KNOXHOOK_CLIENT_SECRET": knox.client_secret,
    }


def test_a_key_change_is_warned_about_once(knox: EmulatorHandle) -> None:
    from tests.cli.knoxproc import knoxhook

    assert knoxhook("cert", "fetch", env=_knox_env(knox), timeout=60).code == 0
    knox.set_certificate("rotate-new-key")
    run = knoxhook("cert", "fetch", env=_knox_env(knox), timeout=60)
    assert run.code == 0, run.err
    about_the_key = [line for line in run.err.splitlines() if "public key" in line.lower()]
    assert len(about_the_key) == 1, run.err
    assert about_the_key[0].startswith("warning: the certificate's PUBLIC KEY CHANGED")


def test_fetching_an_expired_certificate_never_says_renewed(knox: EmulatorHandle) -> None:
    from tests.cli.knoxproc import knoxhook

    assert knoxhook("cert", "fetch", env=_knox_env(knox), timeout=60).code == 0
    good = certs.read_stored(load_settings(env={**_knox_env(knox), **_dirs()}))
    knox.set_certificate("expire")  # a new certificate, same key, already expired
    run = knoxhook("cert", "fetch", env=_knox_env(knox), timeout=60)
    assert run.code == 8
    assert "renewed" not in run.err
    assert "stored" not in run.err.split("Error:")[0]
    assert "Error: certificate expired on" in run.err
    assert "itself serves this expired certificate; the stored one (if any) was kept" in run.err
    assert certs.read_stored(load_settings(env={**_knox_env(knox), **_dirs()})) == good


def _dirs() -> dict[str, str]:
    import os

    return {k: os.environ[k] for k in ("KNOXHOOK_CONFIG_DIR", "KNOXHOOK_CACHE_DIR")}


@pytest.mark.parametrize("command", [("cert", "show"), ("cert", "check", "--min-days", "0")])
def test_file_dash_reads_the_certificate_from_stdin(command: tuple[str, ...]) -> None:
    from tests.cli.knoxproc import knoxhook

    run = knoxhook(*command, "--file", "-", "--json", stdin=PEM_2024.read_bytes(), timeout=60)
    assert run.code == 0, run.err
    assert json.loads(run.out)["spki_sha256"] == SAMSUNG_PIN
    empty = knoxhook(*command, "--file", "-", timeout=60)
    assert empty.code == 2
    assert "Error: --file -: nothing on stdin" in empty.err

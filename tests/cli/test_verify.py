"""`knoxhook verify`: exit 0 / 8 with the reason, headers files, --explain, --json, stdin,
openssl-signed callbacks, and the stored certificate (downloaded from the emulator)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knoxhook.cli.verify import parse_headers
from knoxhook.emulator.signer import sign
from knoxhook.emulator.testing import EmulatorHandle
from knoxhook.errors import UsageError
from tests.cli.conftest import run
from tests.receiver.signing import JOSE_RS256, Signer, b64url


@pytest.fixture(scope="module")
def knox() -> Signer:
    return Signer.create()


@pytest.fixture
def files(tmp_path: Path, knox: Signer) -> Path:
    body, headers = knox.callback(nonce="nonce-7")
    (tmp_path / "body.json").write_bytes(body)
    (tmp_path / "cert.pem").write_bytes(knox.pem)
    raw = "POST /knox HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    (tmp_path / "headers.txt").write_text(raw)
    (tmp_path / "headers.json").write_text(json.dumps(headers))
    (tmp_path / "sig.txt").write_text(headers["X-WSM-SIGNATURE"])
    return tmp_path


def test_valid_callback_with_raw_headers_file_exits_0_and_shows_it(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "verify",
        "--body",
        str(files / "body.json"),
        "--headers",
        str(files / "headers.txt"),
        "--cert",
        str(files / "cert.pem"),
    )
    assert code == 0, err
    assert "KDMS_DEVICE_UPLOAD" in out
    assert "raw-body/padded/detached" in out
    assert "nonce-7" in out


def test_json_output_keys(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "verify",
        "--body",
        str(files / "body.json"),
        "--headers",
        str(files / "headers.json"),
        "--cert",
        str(files / "cert.pem"),
        "--json",
    )
    assert code == 0
    result = json.loads(out)
    assert list(result) == [
        "valid",
        "event",
        "subscriptionId",
        "nonce",
        "trace_id",
        "form",
        "certificate_sha256",
        "payload",
        "body_is_signed",
    ]
    assert result["valid"] is True
    assert result["body_is_signed"] is True
    assert result["nonce"] == "nonce-7"


def test_tampered_body_exits_8_with_the_reason_in_one_line(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (files / "body.json").write_bytes((files / "body.json").read_bytes().replace(b"1", b"2"))
    code, out, err = run(
        capsys,
        "verify",
        "--body",
        str(files / "body.json"),
        "--signature",
        (files / "sig.txt").read_text(),
        "--cert",
        str(files / "cert.pem"),
    )
    assert code == 8
    assert err.startswith("Error: bad_signature: the signature does not match")
    assert len(err.strip().splitlines()) == 1
    assert out == ""


def test_wrong_certificate_exits_8_and_json_failure_has_reason(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (files / "other.pem").write_bytes(Signer.create().pem)
    code, out, err = run(
        capsys,
        "verify",
        "--body",
        str(files / "body.json"),
        "--signature",
        (files / "sig.txt").read_text(),
        "--cert",
        str(files / "other.pem"),
        "--json",
    )
    assert code == 8
    assert json.loads(out) == {
        "valid": False,
        "reason": "bad_signature",
        "message": json.loads(out)["message"],
    }
    assert json.loads(err)["error"]["code"] == "callback_rejected"


def test_explain_shows_each_signing_input(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (files / "other.pem").write_bytes(Signer.create().pem)
    code, out, _ = run(
        capsys,
        "verify",
        "--body",
        str(files / "body.json"),
        "--headers",
        str(files / "headers.txt"),
        "--cert",
        str(files / "other.pem"),
        "--explain",
        "--json",
    )
    assert code == 8
    attempts = json.loads(out)["attempts"]
    forms = [a["form"] for a in attempts if a["step"] == "signature" and a["signing_input"]]
    assert forms == [
        "raw-body/padded",
        "raw-body/unpadded",
        "samsung-reserialized/padded",
        "samsung-reserialized/unpadded",
        "compact-json/padded",
        "compact-json/unpadded",
    ]
    assert all(
        a["signing_input"].startswith(JOSE_RS256[:24] + "...")
        for a in attempts
        if a["signing_input"]
    )


def test_nonce_db_refuses_the_second_verification(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "verify",
        "--body",
        str(files / "body.json"),
        "--headers",
        str(files / "headers.txt"),
        "--cert",
        str(files / "cert.pem"),
        "--nonce-db",
        str(files / "n.sqlite3"),
    ]
    assert run(capsys, *args)[0] == 0
    code, _, err = run(capsys, *args)
    assert code == 8
    assert err.startswith("Error: replayed_nonce: nonce 'nonce-7' was already seen")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--signature", "x"], "give exactly one of --signature or --headers"),
        ([], "give exactly one of --signature or --headers"),
        (["--headers", "missing.txt"], "cannot read headers missing.txt"),
    ],
)
def test_usage_errors_exit_2(
    files: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(files)
    extra = ["--headers", "headers.txt"] if args == ["--signature", "x"] else []
    code, _, err = run(capsys, "verify", "--body", "body.json", "--cert", "cert.pem", *args, *extra)
    assert code == 2
    assert message in err


def test_bad_headers_file_and_bad_cert_file(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (files / "bad.txt").write_text("X-WSM-SIGNATURE abc\n")
    code, _, err = run(
        capsys,
        "verify",
        "--body",
        str(files / "body.json"),
        "--headers",
        str(files / "bad.txt"),
        "--cert",
        str(files / "cert.pem"),
    )
    assert code == 2
    assert "line 1: expected 'Name: value'" in err
    code, _, err = run(
        capsys,
        "verify",
        "--body",
        str(files / "body.json"),
        "--headers",
        str(files / "headers.txt"),
        "--cert",
        str(files / "body.json"),
    )
    assert code == 8
    assert "is not an X.509 certificate" in err


def test_openssl_signed_callback_from_stdin_in_a_subprocess(tmp_path: Path) -> None:
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-days",
            "2",
            "-subj",
            "/CN=knox.test",
            "-keyout",
            str(tmp_path / "k.pem"),
            "-out",
            str(tmp_path / "c.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    body = b'{"subscriptionId":"123456789123","event":"KG_DEVICE_LOCKED","payload":{}}'
    (tmp_path / "input").write_bytes(f"{JOSE_RS256}.{b64url(body, padded=False)}".encode())
    sig = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", str(tmp_path / "k.pem"), str(tmp_path / "input")],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    header = f"{JOSE_RS256}..{b64url(sig, padded=False)}"
    cmd = [
        sys.executable,
        "-m",
        "knoxhook",
        "verify",
        "--body",
        "-",
        "--signature",
        header,
        "--cert",
        str(tmp_path / "c.pem"),
        "--json",
    ]
    ok = subprocess.run(cmd, input=body, capture_output=True, timeout=60, check=False)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["form"] == "raw-body/unpadded/detached"
    bad = subprocess.run(
        cmd,
        input=body.replace(b"LOCKED", b"UNLOCKED"),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 8
    assert b"Traceback" not in bad.stderr
    assert json.loads(bad.stderr)["error"]["message"].startswith("bad_signature:")


def test_without_cert_uses_the_stored_certificate_downloaded_from_knox(
    emulator: EmulatorHandle,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KNOXHOOK_BASE_URL", emulator.base_url)
    monkeypatch.setenv("KNOXHOOK_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", emulator.client_secret)
    body = b'{"subscriptionId":"s1","event":"KDMS_DEVICE_UPLOAD","payload":{}}'
    (tmp_path / "b.json").write_bytes(body)
    header = sign(body, emulator.emulator.certs.key, "padded")
    code, out, err = run(
        capsys, "verify", "--body", str(tmp_path / "b.json"), "--signature", header, "--json"
    )
    assert code == 0, err
    assert json.loads(out)["form"] == "raw-body/padded/attached"
    stored = list((Path(str(tmp_path / "home" / "cache")) / "certificates").glob("*.pem"))
    assert len(stored) == 1  # downloaded once and kept


def test_expired_certificate_exits_8_with_certificate_expired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime, timedelta

    past = datetime.now(UTC) - timedelta(days=2)
    old = Signer.create(not_before=past - timedelta(days=30), not_after=past)
    body, headers = old.callback()
    (tmp_path / "b.json").write_bytes(body)
    (tmp_path / "old.pem").write_bytes(old.pem)
    code, _, err = run(
        capsys,
        "verify",
        "--body",
        str(tmp_path / "b.json"),
        "--signature",
        headers["X-WSM-SIGNATURE"],
        "--cert",
        str(tmp_path / "old.pem"),
    )
    assert code == 8
    assert err.startswith("Error: certificate_expired: the signature verifies only with")
    assert f"a certificate that expired on {past:%Y-%m-%d}" in err


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_fuzzed_headers_files_parse_or_raise_usage_error(data: bytes) -> None:
    messages: list[str] = []
    headers: dict[str, str] = {}
    try:
        headers = parse_headers(data, "h.txt")
    except UsageError as exc:
        messages.append(exc.message)
    assert all("h.txt" in m for m in messages)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())


# --- Samsung's reading: the re-serialized form, --strict, --allow-expired-cert, --max-body --


def samsung_signed(tmp_path: Path, signer: Signer, body: bytes) -> tuple[Path, str, Path]:
    """A body file, a signature over Samsung's re-serialization of it, a cert file."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from knoxhook.signature import samsung

    signed = samsung.reserialize(body)
    assert signed is not None
    data = f"{JOSE_RS256}.{b64url(signed, padded=True)}".encode()
    sig = signer.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    (tmp_path / "samsung.json").write_bytes(body)
    (tmp_path / "signer.pem").write_bytes(signer.pem)
    return (
        tmp_path / "samsung.json",
        f"{JOSE_RS256}..{b64url(sig, padded=False)}",
        tmp_path / "signer.pem",
    )


KG_BODY = b"""{
    "subscriptionId" : "123456789123",
    "event" : "KG_DEVICE_ENROLLED",
    "payload": {"deviceStatus": "Enrolled", "imei": "32456783948576"}
}
"""


def test_samsung_reserialized_callback_verifies_and_strict_refuses_it(
    tmp_path: Path, knox: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    body, sig, cert = samsung_signed(tmp_path, knox, KG_BODY)
    base = ("verify", "--body", str(body), "--signature", sig, "--cert", str(cert))
    code, out, err = run(capsys, *base, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["form"] == "samsung-reserialized/padded/detached"
    assert result["body_is_signed"] is False
    code, out, err = run(capsys, *base, "--strict")
    assert code == 8
    assert err.startswith("Error: bad_signature: ")
    assert "the raw body (strict mode)" in err


def test_expired_certificate_needs_allow_expired_cert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime, timedelta

    past = datetime.now(UTC) - timedelta(days=3)
    old = Signer.create(not_before=past - timedelta(days=30), not_after=past)
    body, sig, cert = samsung_signed(tmp_path, old, KG_BODY)
    base = ("verify", "--body", str(body), "--signature", sig, "--cert", str(cert))
    code, _, err = run(capsys, *base)
    assert code == 8
    expected = f"a certificate that expired on {past:%Y-%m-%d}"
    assert err.startswith(
        f"Error: certificate_expired: the signature verifies only with {expected}"
    )
    code, out, err = run(capsys, *base, "--allow-expired-cert", "--explain")
    assert code == 0, err
    assert "(allowed)" in out


@pytest.mark.parametrize(
    ("limit", "code", "message"),
    [
        ("16", 8, "Error: body_too_large: the body is "),
        ("1k", 0, ""),
        ("16M", 0, ""),
        ("lots", 2, "--max-body 'lots': expected a positive byte count"),
        ("0", 2, "--max-body '0': expected a positive byte count"),
    ],
)
def test_max_body(
    files: Path, capsys: pytest.CaptureFixture[str], limit: str, code: int, message: str
) -> None:
    got, _, err = run(
        capsys,
        "verify",
        "--body",
        str(files / "body.json"),
        "--headers",
        str(files / "headers.txt"),
        "--cert",
        str(files / "cert.pem"),
        "--max-body",
        limit,
    )
    assert got == code, err
    assert message in err


def test_repeated_name_exits_8_with_duplicate_key(
    tmp_path: Path, knox: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    body = b'{"subscriptionId":"s","event":"KG_DEVICE_UNLOCKED","event":"KG_DEVICE_LOCKED"}'
    (tmp_path / "dup.json").write_bytes(body)
    (tmp_path / "k.pem").write_bytes(knox.pem)
    sig = knox.sign(body)
    code, _, err = run(
        capsys, "verify", "--body", str(tmp_path / "dup.json"), "--signature", sig,
        "--cert", str(tmp_path / "k.pem"),
    )  # fmt: skip
    assert code == 8
    assert err.startswith("Error: duplicate_key: the body repeats an object name")


def _address_space_4g() -> None:  # a regression (reading it all) fails fast, not the machine
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def test_max_body_refuses_a_huge_body_without_reading_it(files: Path) -> None:
    huge = files / "huge.json"
    with huge.open("wb") as file:  # sparse: 16 GiB on disk in a few blocks
        file.truncate(16 << 30)
    base = [sys.executable, "-m", "knoxhook", "verify", "--headers", str(files / "headers.txt")]
    base += ["--cert", str(files / "cert.pem"), "--max-body", "1k", "--body"]
    got = subprocess.run(
        [*base, str(huge)],
        capture_output=True,
        timeout=60,
        check=False,
        preexec_fn=_address_space_4g,
    )
    assert got.returncode == 8, got.stderr
    assert got.stderr.decode() == (
        f"Error: body_too_large: the body is {16 << 30} bytes; the limit is 1024\n"
    )
    # stdin has no size to tell: read limit + 1 bytes, say "more than"
    piped = subprocess.run(
        [*base, "-", "--json"], input=b" " * 5000, capture_output=True, timeout=60, check=False
    )
    assert piped.returncode == 8, piped.stderr
    message = json.loads(piped.stderr)["error"]["message"]
    assert message == "body_too_large: the body is more than 1024 bytes; the limit is 1024"
    assert json.loads(piped.stdout)["reason"] == "body_too_large"

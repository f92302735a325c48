"""``knoxhook emulator run`` as a real process: the Knox docs followed literally, restarts,
clean stops, and clear errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from knoxhook.cli.main import main
from knoxhook.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from knoxhook.validation import is_loopback


class Emulator:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str]:
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, err


@contextmanager
def emulator_process(*args: str, env: dict[str, str] | None = None) -> Iterator[Emulator]:
    """``python -m knoxhook emulator run --port 0 ARGS``; yields once it printed its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "knoxhook", "emulator", "run", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout=30)
    try:
        if not line or not line[0].startswith("http://127.0.0.1:"):
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"the emulator did not print its URL: {line!r} {err}")
        yield Emulator(proc, line[0].strip())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def curl(*args: str) -> tuple[int, str]:
    """curl, as in Samsung's docs; returns (HTTP status, body)."""
    result = subprocess.run(
        ["curl", "-sS", "-w", "\n%{http_code}", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    body, _, status = result.stdout.rpartition("\n")
    return int(status), body


def test_knox_docs_literally_against_the_emulator_process() -> None:
    with emulator_process() as emu:
        # The docs' token request: form-encoded client credentials, curl -d.
        status, body = curl(
            "-X",
            "POST",
            f"{emu.url}/ams/v1/oauth2/token",
            "-H",
            "Content-Type: application/x-www-form-urlencoded",
            "-d",
            f"grant_type=client_credentials&client_id={DEMO_CLIENT_ID}"
            f"&client_secret={DEMO_CLIENT_SECRET}&scope=kdms.devices",
        )
        assert status == 200
        token = json.loads(body)
        assert token["token_type"] == "Bearer"
        assert token["expires_in"] == 599
        assert token["scope"] == "kdms.devices"
        bearer = ("-H", f"Authorization: Bearer {token['access_token']}")
        json_h = ("-H", "Content-Type: application/json")
        status, body = curl(
            "-X",
            "POST",
            f"{emu.url}/kwn/v1/subscriptions",
            *bearer,
            *json_h,
            "-d",
            json.dumps({"url": "https://hooks.example.com/knox", "events": ["KDMS_DEVICE_UPLOAD"]}),
        )
        assert status == 201
        sub_id = json.loads(body)["subscriptionId"]
        status, body = curl(f"{emu.url}/kwn/v1/subscriptions", *bearer)
        assert (status, [s["subscriptionId"] for s in json.loads(body)]) == (200, [sub_id])
        status, body = curl(f"{emu.url}/kwn/v1/downloadCertificate", *bearer)
        assert status == 200
        assert body.startswith("-----BEGIN CERTIFICATE-----")
        status, _ = curl("-X", "DELETE", f"{emu.url}/kwn/v1/subscriptions/{sub_id}", *bearer)
        assert status == 204
        status, body = curl(f"{emu.url}/kwn/v1/subscriptions")
        assert status == 401
        assert json.loads(body)["message"] == "UNAUTHORIZED"
        code, err = emu.stop(signal.SIGINT)
    assert code == 0
    assert "Traceback" not in err
    assert "Knox emulator ready at http://127.0.0.1:" in err


def test_state_survives_a_restart_with_data_dir(tmp_path: Path) -> None:
    data = str(tmp_path / "emu")
    form = (
        "-d",
        f"grant_type=client_credentials&client_id={DEMO_CLIENT_ID}&client_secret={DEMO_CLIENT_SECRET}",
    )
    with emulator_process("--data-dir", data) as emu:
        token = json.loads(curl(f"{emu.url}/ams/v1/oauth2/token", *form)[1])["access_token"]
        bearer = ("-H", f"Authorization: Bearer {token}")
        status, body = curl(
            f"{emu.url}/kwn/v1/subscriptions",
            *bearer,
            "-H",
            "Content-Type: application/json",
            "-d",
            '{"url": "http://127.0.0.1:9/cb", "events": ["KG_DEVICE_LOCKED"]}',
        )
        assert status == 201
        pem = curl(f"{emu.url}/kwn/v1/downloadCertificate", *bearer)[1]
        assert emu.stop(signal.SIGTERM)[0] == 0
    with emulator_process("--data-dir", data) as emu:
        token = json.loads(curl(f"{emu.url}/ams/v1/oauth2/token", *form)[1])["access_token"]
        bearer = ("-H", f"Authorization: Bearer {token}")
        assert json.loads(curl(f"{emu.url}/kwn/v1/subscriptions", *bearer)[1]) == [json.loads(body)]
        assert curl(f"{emu.url}/kwn/v1/downloadCertificate", *bearer)[1] == pem
        assert emu.stop(signal.SIGTERM)[0] == 0


def test_clients_from_env_and_an_expired_certificate() -> None:
    from cryptography import x509

    env = {"KNOXHOOK_EMULATOR_CLIENTS": "ci-client:ci-secret"}
    with emulator_process("--cert-state", "expired", env=env) as emu:
        ok = curl(
            f"{emu.url}/ams/v1/oauth2/token",
            "-u",
            "ci-client:ci-secret",
            "-d",
            "grant_type=client_credentials",
        )
        demo = curl(
            f"{emu.url}/ams/v1/oauth2/token",
            "-d",
            f"grant_type=client_credentials&client_id={DEMO_CLIENT_ID}"
            f"&client_secret={DEMO_CLIENT_SECRET}",
        )
        token = json.loads(ok[1])["access_token"]
        pem = curl(f"{emu.url}/kwn/v1/downloadCertificate", "-H", f"Authorization: Bearer {token}")
        emu.stop()
    assert ok[0] == 200
    assert demo[0] == 401
    assert json.loads(demo[1])["error"] == "invalid_client"
    cert = x509.load_pem_x509_certificate(pem[1].encode())
    assert cert.not_valid_after_utc.timestamp() < time.time()


def test_port_in_use_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exc:
            main(["emulator", "run", "--port", str(port)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "--port" in err


def test_bad_client_spec_names_the_id_not_the_secret(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["emulator", "run", "--port", "0", "--client", "no-colon-here"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "bad emulator client" in err
    assert "no-colon-here" not in err  # it may be a secret typed without its id
    with pytest.raises(SystemExit) as exc:
        main(["emulator", "run", "--port", "0", "--client", "my-id:"])
    assert exc.value.code == 2
    assert "'my-id'" in capsys.readouterr().err


def test_help_documents_the_demo_client_and_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["emulator", "run", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "knoxhook-demo" in out
    assert "knoxhook emulator run --port 0" in out


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("127.9.9.9", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("kind", ["file", "corrupt-db", "corrupt-key"])
def test_unusable_data_dir_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    target = tmp_path / "state"
    if kind == "file":
        target.write_text("not a directory")
    else:
        target.mkdir()
        if kind == "corrupt-db":
            (target / "emulator.db").write_bytes(b"this is not sqlite" * 100)
        else:
            (target / "signing-key.pem").write_text("garbage")
            (target / "certificate.pem").write_text("garbage")
    with pytest.raises(SystemExit) as exc:
        main(["emulator", "run", "--port", "0", "--data-dir", str(target)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"cannot use the emulator data dir {target}" in err
    assert "Traceback" not in err


def test_the_emulator_commands_keep_pydantic_off_the_start_up_path(
    tmp_path: Path,
) -> None:
    """The emulator's contract is pydantic models, but only the app imports them:
    ``--help`` and ``trigger`` (a client of the control endpoints) stay fast."""
    base = [sys.executable, "-X", "importtime", "-m", "knoxhook"]
    for args in (
        ["emulator", "--help"],
        ["emulator", "run", "--help"],
        ["demo", "--help"],
        ["trigger", "--help"],
        ["trigger", "KG_DEVICE_LOCKED", "--emulator", "http://127.0.0.1:1"],
    ):
        result = subprocess.run(
            [*base, *args], capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path
        )
        assert result.returncode in (0, 7), result.stderr[-2000:]
        imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
        assert "pydantic" not in imported, args
        assert "knoxhook.emulator.models" not in imported, args


def test_a_control_token_from_the_environment_guards_the_control_endpoints() -> None:
    token = "ci-chosen-control-token"
    with emulator_process(env={"KNOXHOOK_EMULATOR_TOKEN": token}) as emu:
        refused = curl(f"{emu.url}/_emulator/health")
        allowed = curl(f"{emu.url}/_emulator/health", "-H", f"X-Emulator-Token: {token}")
        code, err = emu.stop()
    assert refused[0] == 401
    assert json.loads(refused[1])["message"] == "UNAUTHORIZED"
    assert allowed == (200, '{"status":"ok"}')
    assert code == 0
    assert "control endpoints need the token in KNOXHOOK_EMULATOR_TOKEN" in err
    assert token not in err

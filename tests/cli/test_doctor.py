"""`knoxhook doctor` against the emulator and real receivers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from knoxhook import certs, doctor
from knoxhook.config import load_settings
from knoxhook.httpoptions import HttpOptions
from knoxhook.serving import serve_in_thread
from tests.cli.conftest import run
from tests.cli.test_cert_check import PEM_2022
from tests.test_certs import valid_cert

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle

NAMES = ["profile", "secret", "token", "clock", "certificate"]


@contextmanager
def verifying_receiver(knox: EmulatorHandle) -> Iterator[tuple[str, list[Any]]]:
    """knoxhook's own receiver, trusting the emulator's certificate: (URL, its verdicts)."""
    from knoxhook.certinfo import load_certificates
    from knoxhook.receiver.app import StaticCertificates, create_receiver
    from knoxhook.receiver.nonces import MemoryNonceStore

    verdicts: list[Any] = []
    app = create_receiver(
        StaticCertificates(load_certificates(knox.certificate_pem)),
        nonce_store=MemoryNonceStore(),
        on_callback=verdicts.append,
    )
    with serve_in_thread(app) as server:
        yield server.base_url + "/", verdicts


@contextmanager
def accepting_receiver() -> Iterator[tuple[str, list[bytes]]]:
    """A receiver that answers 200 to anything (it verifies nothing): (URL, bodies)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    bodies: list[bytes] = []

    async def accept(request: Request) -> Response:
        bodies.append(await request.body())
        return Response("ok")

    with serve_in_thread(Starlette(routes=[Route("/", accept, methods=["POST"])])) as server:
        yield server.base_url + "/", bodies


def _subscribe(capsys: pytest.CaptureFixture[str], url: str, event: str) -> str:
    code, out, err = run(capsys, "subscribe", "--url", url, "--event", event, "--allow-http",
                         "--json")  # fmt: skip
    assert code == 0, err
    sid: str = json.loads(out)["subscriptionId"]
    return sid


def _by_name(out: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(out)["checks"]}


def test_a_healthy_setup_passes_every_check_and_the_probe_is_refused(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "cert", "fetch")[0] == 0
    with verifying_receiver(knox) as (url, verdicts):
        sid = _subscribe(capsys, url, "KDMS_DEVICE_UPLOAD")
        code, out, err = run(capsys, "doctor", "--json")
        assert code == 0, out + err
        assert err == ""
        checks = _by_name(out)
        assert json.loads(out)["ok"] is True
        assert list(checks)[:5] == NAMES
        assert all(c["status"] == "ok" for c in checks.values()), checks
        assert checks["secret"]["detail"] == "found in the env: KNOXHOOK_CLIENT_SECRET"
        assert "refused a forged callback with 4" in checks[f"callback {sid}"]["detail"]
        assert "pin sha256//" in checks["certificate"]["detail"]
        assert len(verdicts) == 1  # the probe reached the receiver, which refused it
        assert not verdicts[0].accepted
        # the table: one line per check
        code, out, _ = run(capsys, "doctor")
        assert code == 0
        assert f"ok    callback {sid}  {url}: refused a forged callback" in out
    assert knox.client_secret not in out


def test_a_receiver_that_accepts_a_forgery_fails_with_8_and_a_fix(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    with accepting_receiver() as (url, bodies):
        sid = _subscribe(capsys, url, "KG_DEVICE_LOCKED")
        code, out, err = run(capsys, "doctor")
    assert code == 8
    assert f"FAIL  callback {sid}  {url}: ACCEPTED a forged callback (200)" in out
    assert "fix: verify X-WSM-SIGNATURE before accepting" in out
    assert b"KNOXHOOK_DOCTOR_PROBE" in bodies[0]
    assert f"Error: 1 check(s) failed: callback {sid}" in err


def test_an_unreachable_callback_fails_with_7(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sid = _subscribe(capsys, f"http://user:pw@127.0.0.1:{port}/hook", "KG_DEVICE_LOCKED")
    code, out, _ = run(capsys, "doctor", "--json")
    assert code == 7
    check = _by_name(out)[f"callback {sid}"]
    assert check["status"] == "fail"
    assert check["detail"] == f"http://user:***@127.0.0.1:{port}/hook: unreachable (ConnectError)"
    assert "pw" not in out


def test_no_credentials_fail_with_3_and_skip_what_needs_them(
    emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNOXHOOK_BASE_URL", emulator.base_url)
    code, out, err = run(capsys, "doctor", "--json")
    assert code == 3
    checks = _by_name(out)
    assert checks["profile"]["status"] == "fail"
    assert "KNOXHOOK_CLIENT_ID" in checks["profile"]["fix"]
    assert checks["secret"]["status"] == "fail"
    assert checks["token"]["status"] == "skip"
    assert checks["callbacks"]["status"] == "skip"
    assert checks["clock"]["status"] == "ok"  # the emulator answered with a Date
    assert json.loads(err)["error"]["code"] == "doctor_failed"


def test_refused_credentials_fail_with_4_without_showing_the_secret(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", "wrong-secret-value")
    code, out, err = run(capsys, "doctor")
    assert code == 4
    assert "FAIL  token" in out
    assert "wrong-secret-value" not in out + err


def test_a_world_readable_token_cache_fails_with_3_and_says_chmod(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "doctor")[0] == 0  # caches a token, 0600
    settings = load_settings()
    cached = list((settings.cache_dir / "tokens").glob("*.json"))
    assert len(cached) == 1
    cached[0].chmod(0o644)
    code, out, _ = run(capsys, "doctor", "--json")
    assert code == 3
    files = _by_name(out)["files"]
    assert files["detail"] == f"world-readable: {cached[0]}"
    assert files["fix"] == f"chmod 600 {cached[0]}"


def test_an_expiring_stored_certificate_warns_and_an_expired_one_fails_with_8(
    knox: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings()
    certs.store(settings, valid_cert(days_left=10))
    code, out, _ = run(capsys, "doctor", "--json")
    assert code == 0
    assert _by_name(out)["certificate"]["status"] == "warn"
    code, out, _ = run(capsys, "doctor", "--min-days", "5", "--json")
    assert _by_name(out)["certificate"]["status"] == "ok"
    certs.stored_path(settings).write_bytes(PEM_2022.read_bytes())
    code, out, _ = run(capsys, "doctor")
    assert code == 8
    assert "FAIL  certificate  the certificate expired on 2025-10-30T05:17:14Z" in out


def test_a_skewed_clock_fails(knox: EmulatorHandle) -> None:
    settings = load_settings()
    http = HttpOptions.for_settings(settings)
    late = doctor.check_clock(settings, http, lambda: time.time() - 600, doctor.MAX_SKEW)
    assert late.status is doctor.Status.FAIL
    said = re.fullmatch(r"the local clock is (\d+) s behind the server's Date", late.detail)
    assert said is not None, late.detail
    assert 598 <= int(said[1]) <= 601  # the Date header has whole seconds
    assert int(late.exit_code) == 3
    fine = doctor.check_clock(settings, http, time.time, doctor.MAX_SKEW)
    assert fine.status is doctor.Status.OK


def test_a_real_process(knox: EmulatorHandle, tmp_path: Path) -> None:
    env = {**os.environ, "KNOXHOOK_CONFIG_DIR": str(tmp_path), "KNOXHOOK_CACHE_DIR": str(tmp_path),
           "KNOXHOOK_BASE_URL": knox.base_url, "KNOXHOOK_CLIENT_ID": knox.client_id,
           "KNOXHOOK_CLIENT_SECRET": knox.client_secret}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "knoxhook", "doctor"],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0].startswith("ok    profile      'default': client id")
    assert "WARN  certificate  none stored" in result.stdout
    assert "fix: run `knoxhook cert fetch`" in result.stdout
    assert result.stderr == ""

"""``--verbose`` says what knoxhook does on its own (issue 9 item 9): retries and their
wait, token renewals, certificate downloads; on stderr, never a secret. Each is caused
through the emulator's fault controls (``knoxhook emulator fault add``) and observed in
a real ``knoxhook`` process."""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING

import pytest

from knoxhook import config, tokens
from tests.cli.knoxproc import knoxhook

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle

RETRY_LINE = re.compile(
    r"^retrying GET /kwn/v1/subscriptions in \d+\.\d s \(503, attempt (\d) of 4\)$"
)


@pytest.fixture
def knox(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> EmulatorHandle:
    monkeypatch.setenv("KNOXHOOK_BASE_URL", emulator.base_url)
    monkeypatch.setenv("KNOXHOOK_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", emulator.client_secret)
    monkeypatch.setenv("KNOXHOOK_EMULATOR_URL", emulator.base_url)
    return emulator


def _fault(*args: str) -> None:
    run = knoxhook("emulator", "fault", "add", *args, timeout=30)
    assert run.code == 0, run.err


def _no_secrets(err: str, knox: EmulatorHandle) -> None:
    assert knox.client_secret not in err
    token = tokens.read_cached(config.load_settings())
    assert token is None or token.access_token not in err


def test_retries_are_said_with_their_wait_and_attempt(knox: EmulatorHandle) -> None:
    _fault("--path", "/kwn/v1/subscriptions", "--method", "GET", "--status", "503", "--count", "2")
    run = knoxhook("--verbose", "subscriptions", "list", "--json", timeout=60)
    assert run.code == 0, run.err
    assert json.loads(run.out) == []
    attempts = [m.group(1) for m in map(RETRY_LINE.match, run.err.splitlines()) if m]
    assert attempts == ["2", "3"], run.err
    _no_secrets(run.err, knox)


def test_without_verbose_retries_are_silent(knox: EmulatorHandle) -> None:
    _fault("--path", "/kwn/v1/subscriptions", "--method", "GET", "--status", "503")
    run = knoxhook("subscriptions", "list", "--json", timeout=60)
    assert run.code == 0, run.err
    assert run.err == ""


def test_a_retried_token_request_is_said_too(knox: EmulatorHandle) -> None:
    _fault("--path", "/ams/v1/oauth2/token", "--status", "503")
    run = knoxhook("-v", "auth", "token", timeout=60)
    assert run.code == 0, run.err
    assert re.search(
        rf"^retrying POST {re.escape(knox.token_url)} in \d+\.\d s \(503, attempt 2 of 4\)$",
        run.err,
        re.MULTILINE,
    ), run.err
    assert run.out.strip() not in run.err  # the token is stdout's alone


def test_a_refused_token_is_renewed_and_said(knox: EmulatorHandle) -> None:
    assert knoxhook("subscriptions", "list", timeout=60).code == 0  # a token is cached
    _fault("--path", "/kwn/v1/subscriptions", "--method", "GET", "--status", "401")
    run = knoxhook("-v", "subscriptions", "list", "--json", timeout=60)
    assert run.code == 0, run.err
    assert "token refused by Knox: getting a new one" in run.err.splitlines()
    _no_secrets(run.err, knox)


def test_an_expired_cached_token_is_renewed_and_said(knox: EmulatorHandle) -> None:
    assert knoxhook("subscriptions", "list", timeout=60).code == 0
    path = tokens.cache_path(config.load_settings())
    record = json.loads(path.read_bytes())
    record["expires_at"] = time.time() - 5
    path.write_text(json.dumps(record))
    run = knoxhook("-v", "subscriptions", "list", "--json", timeout=60)
    assert run.code == 0, run.err
    assert "token expired (or about to): getting a new one" in run.err.splitlines()


def test_a_certificate_download_is_said(knox: EmulatorHandle, tmp_path: object) -> None:
    from pathlib import Path

    body = Path(str(tmp_path)) / "body.json"
    body.write_text('{"event": "KDMS_DEVICE_UPLOAD"}')
    run = knoxhook("-v", "verify", "--body", str(body), "--signature", "e30.e30.e30", timeout=60)
    assert run.code == 8, run.err  # a forged callback; the point is what came before
    assert f"no certificate stored for {knox.base_url}: downloading it" in run.err.splitlines()
    quiet = knoxhook("verify", "--body", str(body), "--signature", "e30.e30.e30", timeout=60)
    assert "downloading" not in quiet.err

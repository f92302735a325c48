"""``knoxhook trigger``: asks the emulator to deliver, prints the delivery record."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from knoxhook.emulator.testing import EmulatorHandle
from knoxhook.serving import serve_in_thread
from tests.cli.conftest import run


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    calls: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: Request) -> Response:
        calls.append((dict(request.headers), await request.body()))
        return Response("ok")

    app = Starlette(routes=[Route("/cb", receive, methods=["POST"])])
    with serve_in_thread(app) as server:
        yield server.base_url + "/cb", calls


def _subscribe(emu: EmulatorHandle, url: str, events: list[str]) -> str:
    response = httpx2.post(
        emu.base_url + "/kwn/v1/subscriptions",
        json={"url": url, "events": events},
        headers={"Authorization": f"Bearer {emu.token()}"},
    )
    assert response.status_code == 201
    sub_id: str = response.json()["subscriptionId"]
    return sub_id


def test_trigger_delivers_and_prints_the_record_as_json(
    emulator: EmulatorHandle, receiver: tuple[str, list], capsys: pytest.CaptureFixture[str]
) -> None:
    url, calls = receiver
    sub_id = _subscribe(emulator, url, ["KDMS_DEVICE_UPLOAD"])
    code, out, err = run(
        capsys,
        "trigger",
        "kdms_device_upload",
        "--trace-id",
        "t-9",
        "--emulator",
        emulator.base_url,
        "--json",
    )
    assert code == 0, err
    record = json.loads(out)
    assert record["status"] == "delivered"
    assert record["subscriptionId"] == sub_id
    assert record["traceId"] == "t-9"
    assert len(calls) == 1
    assert calls[0][0]["x-wsm-traceid"] == "t-9"
    assert json.loads(calls[0][1])["event"] == "KDMS_DEVICE_UPLOAD"


def test_trigger_table_output_and_url_from_env(
    emulator: EmulatorHandle,
    receiver: tuple[str, list],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _subscribe(emulator, receiver[0], ["KG_DEVICE_LOCKED"])
    monkeypatch.setenv("KNOXHOOK_EMULATOR_URL", emulator.base_url)
    code, out, _ = run(capsys, "trigger", "KG_DEVICE_LOCKED")
    assert code == 0
    assert "delivered" in out
    assert "KG_DEVICE_LOCKED" in out


def test_trigger_falls_back_to_the_profile_base_url(
    emulator: EmulatorHandle,
    receiver: tuple[str, list],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _subscribe(emulator, receiver[0], ["KG_DEVICE_LOCKED"])
    monkeypatch.setenv("KNOXHOOK_BASE_URL", emulator.base_url)
    code, out, _ = run(capsys, "trigger", "KG_DEVICE_LOCKED", "--json")
    assert code == 0
    assert json.loads(out)["status"] == "delivered"


def test_trigger_sends_the_payload_file(
    emulator: EmulatorHandle,
    receiver: tuple[str, list],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    url, calls = receiver
    _subscribe(emulator, url, ["KG_DEVICE_UNLOCKED"])
    payload = {"deviceUid": "dev-1", "deviceStatus": "Enrolled"}
    (tmp_path / "p.json").write_text(json.dumps(payload))
    code, _, _ = run(
        capsys,
        "trigger",
        "KG_DEVICE_UNLOCKED",
        "--payload",
        str(tmp_path / "p.json"),
        "--emulator",
        emulator.base_url,
        "--json",
    )
    assert code == 0
    assert json.loads(calls[0][1])["payload"] == payload


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "cannot read the payload file"),
        ("{nope", "is not valid JSON"),
        ("[1]", "must be a JSON object"),
    ],
)
def test_bad_payload_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str | None, needle: str
) -> None:
    path = tmp_path / "p.json"
    if content is not None:
        path.write_text(content)
    code, _, err = run(
        capsys,
        "trigger",
        "KG_DEVICE_LOCKED",
        "--payload",
        str(path),
        "--emulator",
        "http://127.0.0.1:1",
    )
    assert code == 2
    assert needle in err


def test_unknown_event_is_exit_2_before_any_request(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "trigger", "KDMS_DEVICE_UPLOD", "--emulator", "http://127.0.0.1:1")
    assert code == 2
    assert "unknown event 'KDMS_DEVICE_UPLOD'; did you mean KDMS_DEVICE_UPLOAD" in err
    assert out == ""


def test_no_subscription_holds_the_event_is_exit_6(
    emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "trigger", "KC_DEVICE_STATUS_CHANGE", "--emulator", emulator.base_url
    )
    assert code == 6
    assert "no subscription holds event KC_DEVICE_STATUS_CHANGE" in err
    assert "knoxhook subscribe --url URL --event KC_DEVICE_STATUS_CHANGE" in err


def test_unreachable_emulator_is_exit_7(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "trigger", "KG_DEVICE_LOCKED", "--emulator", "http://127.0.0.1:1", "--json"
    )
    assert code == 7
    error = json.loads(err)["error"]
    assert error["code"] == "network_error"
    assert "cannot reach the emulator at http://127.0.0.1:1" in error["message"]
    assert "knoxhook emulator run" in error["hint"]


def test_failed_delivery_prints_the_record_and_exits_7(
    emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    _subscribe(emulator, "http://127.0.0.1:1/cb", ["KG_DEVICE_LOCKED"])
    code, out, err = run(
        capsys, "trigger", "KG_DEVICE_LOCKED", "--emulator", emulator.base_url, "--json"
    )
    assert code == 7
    assert json.loads(out)["status"] == "failed"
    assert "failed after 3 attempt(s)" in err


def test_a_url_that_is_not_an_emulator_is_a_usage_error(
    receiver: tuple[str, list], capsys: pytest.CaptureFixture[str]
) -> None:
    base = receiver[0].removesuffix("/cb")
    code, _, err = run(capsys, "trigger", "KG_DEVICE_LOCKED", "--emulator", base)
    assert code == 2
    assert "does not look like a knoxhook emulator" in err


def test_trigger_as_a_subprocess(emulator: EmulatorHandle, receiver: tuple[str, list]) -> None:
    _subscribe(emulator, receiver[0], ["KE_CAMPAIGN_DELETE"])
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "knoxhook",
            "trigger",
            "KE_CAMPAIGN_DELETE",
            "--emulator",
            emulator.base_url,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "delivered"
    assert len(receiver[1]) == 1


def test_trigger_reads_the_payload_from_stdin(
    emulator: EmulatorHandle,
    receiver: tuple[str, list],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    url, calls = receiver
    _subscribe(emulator, url, ["KG_DEVICE_ENROLLED"])
    monkeypatch.setattr("sys.stdin", io.StringIO('{"deviceUid": "u-1"}'))
    code, _, err = run(
        capsys,
        "trigger",
        "KG_DEVICE_ENROLLED",
        "--payload",
        "-",
        "--emulator",
        emulator.base_url,
        "--json",
    )
    assert code == 0, err
    assert json.loads(calls[0][1])["payload"] == {"deviceUid": "u-1"}


def test_trigger_signing_overrides_the_emulators_mode_for_one_callback(
    emulator: EmulatorHandle, receiver: tuple[str, list], capsys: pytest.CaptureFixture[str]
) -> None:
    url, calls = receiver
    _subscribe(emulator, url, ["KG_DEVICE_LOCKED"])
    args = ("trigger", "KG_DEVICE_LOCKED", "--emulator", emulator.base_url, "--json")
    code, out, err = run(capsys, *args, "--signing", "detached")
    assert code == 0, err
    assert json.loads(out)["signing"] == "detached"
    code, out, _ = run(capsys, *args)
    assert code == 0
    assert json.loads(out)["signing"] == "samsung"  # the emulator's own mode again
    detached, default = (headers["x-wsm-signature"].split(".") for headers, _ in calls)
    assert detached[1] == ""
    assert default[1] != ""


def test_trigger_refuses_an_unknown_signing_mode_before_any_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(
        capsys,
        "trigger",
        "KG_DEVICE_LOCKED",
        "--signing",
        "pem",
        "--emulator",
        "http://127.0.0.1:1",
    )
    assert code == 2
    assert "'pem' is not one of: samsung, samsung-reserialized, padded, unpadded" in err


@pytest.mark.parametrize("trace_id", ["ü✓", " run-1", "a\tb", ""])
def test_a_trace_id_that_cannot_be_a_header_is_a_usage_error_before_any_request(
    capsys: pytest.CaptureFixture[str], trace_id: str
) -> None:
    code, out, err = run(
        capsys,
        "trigger",
        "KG_DEVICE_LOCKED",
        "--trace-id",
        trace_id,
        "--emulator",
        "http://127.0.0.1:1",  # nothing listens: a request would be exit 7
    )
    assert code == 2
    assert out == ""
    assert "cannot be sent as the X-WSM-TRACEID header" in err
    if not trace_id:  # never a random id instead (issue 9, defect 8)
        assert "it is empty" in err


def test_the_emulator_answers_400_to_a_trace_id_that_cannot_be_a_header(
    emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    _subscribe(emulator, receiver[0], ["KG_DEVICE_LOCKED"])
    answer = httpx2.post(
        emulator.base_url + "/_emulator/events",
        json={"event": "KG_DEVICE_LOCKED", "traceId": "ü✓"},
    )
    assert answer.status_code == 400
    assert answer.json()["message"] == "INVALID_REQUEST_BODY"
    assert "'traceId'" in answer.json()["data"]
    assert receiver[1] == []


@pytest.fixture
def refusing_receiver() -> Iterator[str]:
    """A receiver that refuses every callback as a knoxhook receiver does (400 + reason)."""
    from starlette.responses import JSONResponse

    async def receive(request: Request) -> Response:
        await request.body()
        body = {"status": "rejected", "reason": "bad_signature", "message": "no key verifies it"}
        return JSONResponse(body, status_code=400)

    app = Starlette(routes=[Route("/cb", receive, methods=["POST"])])
    with serve_in_thread(app) as server:
        yield server.base_url + "/cb"


def test_a_receiver_that_answers_400_is_reported_with_its_status_and_reason(
    emulator: EmulatorHandle, refusing_receiver: str
) -> None:
    """Issue 9, defect 11: was network_error (exit 7); through a real process."""
    from tests.cli.knoxproc import knoxhook

    _subscribe(emulator, refusing_receiver, ["KG_DEVICE_LOCKED"])
    run = knoxhook("trigger", "KG_DEVICE_LOCKED", "--emulator", emulator.base_url, timeout=60)
    assert run.code == 5, run.err
    error = run.err.splitlines()[0]
    assert error.startswith(f"Error: the callback to {refusing_receiver} failed after ")
    assert error.endswith(
        "the receiver answered HTTP 400 Bad Request: bad_signature (no key verifies it)"
    )
    as_json = knoxhook(
        "trigger", "KG_DEVICE_LOCKED", "--emulator", emulator.base_url, "--json", timeout=60
    )
    assert as_json.code == 5
    assert json.loads(as_json.err)["error"]["code"] == "callback_refused"
    assert json.loads(as_json.out)["httpStatus"] == 400

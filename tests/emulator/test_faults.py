"""Injected faults: statuses, Retry-After, latency, real dropped connections, after-effects."""

from __future__ import annotations

import socket
import time

import httpx2
import pytest

from knoxhook.emulator.testing import EmulatorHandle
from tests.emulator.conftest import Api

URL = "https://hooks.example.com/knox"
SUBS = "/kwn/v1/subscriptions"


def test_next_n_requests_get_the_status_then_normal(api: Api) -> None:
    api.emu.fault(path=SUBS, method="POST", status=503, count=2)
    body = {"url": URL, "events": ["KG_DEVICE_LOCKED"]}
    statuses = [api.http.post(SUBS, json=body).status_code for _ in range(3)]
    assert statuses == [503, 503, 201]
    assert api.emu.stats()["faults_applied"] == 2
    assert len(api.http.get(SUBS).json()) == 1  # the 503s did nothing


def test_429_carries_retry_after(api: Api) -> None:
    api.emu.fault(path=SUBS, status=429, retry_after=3)
    response = api.http.get(SUBS)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()["message"] == "INJECTED_FAULT"


def test_method_filter_and_patterns(api: Api) -> None:
    api.emu.fault(path="/kwn/v1/subscriptions/*", method="GET", status=502)
    assert api.http.get(SUBS).status_code == 200  # the pattern needs an id
    assert api.http.delete(SUBS + "/abc").status_code == 404  # the method differs
    assert api.http.get(SUBS + "/abc").status_code == 502
    assert api.http.get(SUBS + "/abc").status_code == 404  # used up


def test_token_endpoint_can_fail(emulator: EmulatorHandle) -> None:
    emulator.fault(path="/ams/v1/oauth2/token", status=500)
    form = {
        "grant_type": "client_credentials",
        "client_id": emulator.client_id,
        "client_secret": emulator.client_secret,
    }
    assert httpx2.post(emulator.token_url, data=form).status_code == 500
    assert httpx2.post(emulator.token_url, data=form).status_code == 200
    assert emulator.stats()["requests"]["POST /ams/v1/oauth2/token"] == 2


def test_drop_closes_the_socket_without_a_byte(emulator: EmulatorHandle) -> None:
    emulator.fault(path="/_health_probe", drop=True)
    host, port = emulator.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET /_health_probe HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    assert received == b""


def test_drop_is_a_transport_error_for_httpx(api: Api) -> None:
    api.emu.fault(path=SUBS, drop=True)
    with pytest.raises(httpx2.RemoteProtocolError, match="without sending a response"):
        api.http.get(SUBS)
    assert api.http.get(SUBS).status_code == 200


@pytest.mark.parametrize("kind", [{"status": 503}, {"drop": True}])
def test_after_fault_applies_the_change_but_loses_the_answer(
    api: Api, kind: dict[str, object]
) -> None:
    api.emu.fault(path=SUBS, method="POST", after=True, **kind)
    body = {"url": URL, "events": ["KG_DEVICE_LOCKED"]}
    if "drop" in kind:
        with pytest.raises(httpx2.RemoteProtocolError):
            api.http.post(SUBS, json=body)
    else:
        assert api.http.post(SUBS, json=body).status_code == 503
    created = api.http.get(SUBS).json()
    assert [s["events"] for s in created] == [["KG_DEVICE_LOCKED"]]
    assert api.http.post(SUBS, json=body).status_code == 400  # a retry now conflicts


def test_delay_adds_latency(api: Api) -> None:
    api.emu.fault(path=SUBS, delay=0.3)
    started = time.monotonic()
    assert api.http.get(SUBS).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_control_paths_are_never_faulted(emulator: EmulatorHandle) -> None:
    emulator.fault(path="/_emulator/*", status=500, count=5)
    assert emulator.stats()["faults_applied"] == 0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"status": 503}, "'path' is required: expected a path, or an fnmatch pattern"),
        ({"path": "x", "status": 503}, "'path' must match pattern '^/'"),
        ({"path": "/x"}, "needs 'status', 'drop' or 'delay'"),
        ({"path": "/x", "status": 200}, "'status' must be 400, 401, 403"),
        ({"path": "/x", "status": 418}, "'status' must be 400, 401, 403"),
        ({"path": "/x", "status": 503, "retry_after": 86401}, "'retry_after' must be less"),
        ({"path": "/x", "status": 503, "drop": True}, "exclude each other"),
        ({"path": "/x", "status": 503, "count": 0}, "expected a whole number from 1 to 1000000"),
        ({"path": "/x", "status": 503, "count": 2_000_000}, "'count' must be less than or"),
        ({"path": "/x", "status": 503, "count": True}, "'count' must be an integer"),
        ({"path": "/x", "delay": 600}, "'delay' must be less than or equal to 60"),
        ({"path": "/x", "status": 503, "colour": "red"}, "unknown fields: colour"),
        (["/x"], "must be a JSON object"),
    ],
)
def test_bad_fault_is_400_with_the_reason(
    emulator: EmulatorHandle, body: object, needle: str
) -> None:
    response = httpx2.post(emulator.base_url + "/_emulator/faults", json=body)
    assert response.status_code == 400
    assert needle in response.json()["data"]
    assert httpx2.get(emulator.base_url + "/_emulator/faults").json() == []


def test_delay_after_the_handler_sends_its_real_answer_late(api: Api) -> None:
    api.emu.fault(path=SUBS, method="POST", delay=0.2, after=True)
    started = time.monotonic()
    response = api.http.post(SUBS, json={"url": URL, "events": ["KG_DEVICE_LOCKED"]})
    assert response.status_code == 201
    assert response.json()["events"] == ["KG_DEVICE_LOCKED"]
    assert time.monotonic() - started >= 0.2


def test_random_paths_do_not_grow_the_counters_forever(emulator: EmulatorHandle) -> None:
    from knoxhook.emulator.stats import MAX_KEYS, Stats

    stats = Stats()
    for i in range(MAX_KEYS + 50):
        stats.count_request("GET", f"/random/{i}")
    snapshot = stats.snapshot()
    assert len(snapshot["requests"]) == MAX_KEYS + 1
    assert snapshot["requests"]["GET (other paths)"] == 50
    assert snapshot["requests_total"] == MAX_KEYS + 50


def test_oversized_token_form_is_refused_with_the_reason(emulator: EmulatorHandle) -> None:
    response = httpx2.post(emulator.token_url, data={"grant_type": "x" * 70_000})
    assert response.status_code == 400
    assert "larger than" in response.json()["error_description"]

"""Callbacks: signed as knox-api.md §5 says, verified by openssl (independent of our code)."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from knoxhook import events
from knoxhook.emulator import SIGNING_MODES
from knoxhook.emulator.testing import running_emulator
from knoxhook.signature import samsung
from tests.emulator.conftest import Api, Recorder
from tests.external import require_program


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _openssl_verify(tmp_path: Path, cert_pem: bytes, header: str, body: bytes, pad: bool) -> bool:
    """Knox's verifier, done with the openssl CLI: part0 + "." + base64url(body)."""
    part0, _, part2 = header.split(".")
    encoded = base64.urlsafe_b64encode(body).decode()
    if not pad:
        encoded = encoded.rstrip("=")
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    pubkey = subprocess.run(
        ["openssl", "x509", "-pubkey", "-noout", "-in", str(tmp_path / "cert.pem")],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    (tmp_path / "pubkey.pem").write_bytes(pubkey)
    (tmp_path / "input.txt").write_bytes(f"{part0}.{encoded}".encode())
    (tmp_path / "sig.bin").write_bytes(_b64url_decode(part2))
    result = subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha256",
            "-verify",
            str(tmp_path / "pubkey.pem"),
            "-signature",
            str(tmp_path / "sig.bin"),
            str(tmp_path / "input.txt"),
        ],
        capture_output=True,
        timeout=30,
    )
    return result.returncode == 0 and b"Verified OK" in result.stdout


def _signed_bytes(mode: str, body: bytes) -> bytes:
    """What the signature covers, read the way each mode documents it."""
    if mode == "samsung-reserialized":
        reserialized = samsung.reserialize(body)
        assert reserialized is not None
        return reserialized
    return body


@pytest.mark.parametrize("mode", SIGNING_MODES)
def test_every_signing_mode_verifies_with_openssl(
    mode: str, recorder: Recorder, tmp_path: Path
) -> None:
    require_program("openssl", install="apt-get install openssl")
    with running_emulator(signing=mode) as emu:
        api = Api(emu)
        sub = api.created(recorder.url, ["KDMS_DEVICE_UPLOAD"])
        record = emu.trigger("KDMS_DEVICE_UPLOAD", trace_id="trace-1")
        served = api.http.get("/kwn/v1/downloadCertificate").content
        api.http.close()
    assert record["status"] == "delivered"
    assert record["signing"] == mode
    assert len(recorder.calls) == 1
    headers, body = recorder.calls[0]
    signature = headers["x-wsm-signature"]
    part0, part1, part2 = signature.split(".")
    assert json.loads(_b64url_decode(part0)) == {"alg": "RS256", "typ": "JWT"}
    signed = _signed_bytes(mode, body)
    pad = mode in ("samsung", "samsung-reserialized", "padded")
    if mode == "detached":
        assert part1 == ""
    else:
        assert _b64url_decode(part1) == signed
        assert part1.endswith("=") == (pad and len(signed) % 3 != 0)
    assert ("=" in part2) == pad
    assert _openssl_verify(tmp_path, served, signature, signed, pad)
    # the other padding, or a changed body, does not verify
    if len(signed) % 3:
        assert not _openssl_verify(tmp_path, served, signature, signed, not pad)
    assert not _openssl_verify(tmp_path, served, signature, signed.replace(b"}", b" }", 1), pad)
    document = json.loads(body)
    assert document["subscriptionId"] == sub["subscriptionId"]
    assert document["event"] == "KDMS_DEVICE_UPLOAD"
    assert headers["x-wsm-traceid"] == "trace-1"
    assert headers["content-type"] == "application/json"
    # What Samsung's sample verifier signs for this body (knox-api.md §5): the body itself
    # in the default mode; another text, re-serializing to the signed bytes, in
    # samsung-reserialized; neither in the third-party modes.
    if mode == "samsung":
        assert samsung.reserialize(body) == body
        assert list(document) == ["payload", "subscriptionId", "event"]  # HashMap order
    elif mode == "samsung-reserialized":
        assert body != signed
        assert body.startswith(b'{\n  "subscriptionId"')  # pretty, in document order
    else:
        assert samsung.reserialize(body) != body


def test_callback_body_headers_and_record(api: Api, recorder: Recorder) -> None:
    sub = api.created(recorder.url, ["KG_DEVICE_LOCKED"])
    payload = {"deviceUid": "u-1", "deviceStatus": "Locked"}
    first = api.emu.trigger("KG_DEVICE_LOCKED", payload=payload)
    second = api.emu.trigger("KG_DEVICE_LOCKED")
    (h1, b1), (h2, b2) = recorder.calls
    assert json.loads(b1) == {
        "subscriptionId": sub["subscriptionId"],
        "event": "KG_DEVICE_LOCKED",
        "payload": payload,
    }
    assert b1 == json.dumps(json.loads(b1), separators=(",", ":")).encode()  # compact
    assert set(json.loads(b2)["payload"]) == set(events.example_payload("KG_DEVICE_LOCKED"))
    assert h1["x-knox-nonce"] != h2["x-knox-nonce"]
    assert h1["x-wsm-traceid"] != h2["x-wsm-traceid"]
    assert first["nonce"] == h1["x-knox-nonce"]
    assert first["traceId"] == h1["x-wsm-traceid"]
    for key in ("status", "httpStatus", "attempts", "latencyMs", "subscriptionId", "url"):
        assert key in first
    assert (first["status"], first["httpStatus"], first["attempts"]) == ("delivered", 200, 1)
    assert api.emu.deliveries() == [first, second]
    assert api.emu.stats()["deliveries"] == 2


def test_failed_delivery_is_retried_with_the_same_nonce(recorder: Recorder) -> None:
    recorder.statuses = [500, 503]
    with running_emulator(delivery_retries=2, delivery_backoff=0.01) as emu:
        api = Api(emu)
        api.created(recorder.url, ["KE_CAMPAIGN_DELETE"])
        record = emu.trigger("KE_CAMPAIGN_DELETE")
        stats = emu.stats()
        api.http.close()
    assert (record["status"], record["attempts"], record["httpStatus"]) == ("delivered", 3, 200)
    assert len(recorder.calls) == 3
    assert len({h["x-knox-nonce"] for h, _ in recorder.calls}) == 1
    assert stats["delivery_attempts"] == 3


def test_delivery_gives_up_after_the_retries(recorder: Recorder) -> None:
    recorder.statuses = [500] * 5
    with running_emulator(delivery_retries=1, delivery_backoff=0.01) as emu:
        api = Api(emu)
        api.created(recorder.url, ["KE_CAMPAIGN_DELETE"])
        record = emu.trigger("KE_CAMPAIGN_DELETE")
        stats = emu.stats()
        api.http.close()
    assert (record["status"], record["attempts"], record["httpStatus"]) == ("failed", 2, 500)
    assert record["error"] == "the receiver answered HTTP 500 Internal Server Error: ok"
    assert stats["deliveries_failed"] == 1


def test_delivery_to_a_closed_port_fails_with_the_reason(api: Api) -> None:
    api.created("http://127.0.0.1:1/cb", ["KE_CAMPAIGN_DELETE"])
    record = api.emu.trigger("KE_CAMPAIGN_DELETE")
    assert record["status"] == "failed"
    assert record["httpStatus"] is None
    assert "ConnectError" in record["error"]
    assert record["attempts"] == 3  # 1 + the fixture's 2 retries


def test_slow_receiver_times_out(recorder: Recorder) -> None:
    recorder.delay = 1.0
    with running_emulator(delivery_retries=0, delivery_timeout=0.2) as emu:
        api = Api(emu)
        api.created(recorder.url, ["KE_CAMPAIGN_DELETE"])
        record = emu.trigger("KE_CAMPAIGN_DELETE")
        api.http.close()
    assert record["status"] == "failed"
    assert "Timeout" in record["error"]
    assert record["latencyMs"] < 900


def test_trigger_errors(api: Api) -> None:
    import httpx2

    base = api.emu.base_url + "/_emulator/events"
    nobody = httpx2.post(base, json={"event": "KG_DEVICE_LOCKED"})
    assert nobody.status_code == 404
    assert "no subscription holds event KG_DEVICE_LOCKED" in nobody.json()["data"]
    unknown = httpx2.post(base, json={"event": "KG_DEVICE_LOKED"})
    assert unknown.status_code == 400
    assert "did you mean KG_DEVICE_LOCKED" in unknown.json()["data"]
    bad = httpx2.post(base, json={"event": "KG_DEVICE_LOCKED", "payload": [1]})
    assert bad.status_code == 400
    assert "'payload' must be a JSON object" in bad.json()["data"]


def test_trigger_signing_field_is_checked(api: Api, recorder: Recorder) -> None:
    import httpx2

    api.created(recorder.url, ["KG_DEVICE_LOCKED"])
    base = api.emu.base_url + "/_emulator/events"
    bad = httpx2.post(base, json={"event": "KG_DEVICE_LOCKED", "signing": "rot13"})
    assert bad.status_code == 400
    assert bad.json()["message"] == "INVALID_REQUEST_BODY"
    assert "'signing' must be 'samsung', 'samsung-reserialized', 'padded'" in bad.json()["data"]
    assert recorder.calls == []
    record = api.emu.trigger("KG_DEVICE_LOCKED", signing="unpadded")
    assert record["signing"] == "unpadded"
    assert "=" not in recorder.calls[0][0]["x-wsm-signature"]

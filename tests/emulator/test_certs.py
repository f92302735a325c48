"""The validation certificate: served as PEM, re-issued on demand, key kept 0600."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from knoxhook.emulator.testing import EmulatorHandle, running_emulator
from tests.emulator.conftest import Api


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _served(api: Api) -> x509.Certificate:
    response = api.http.get("/kwn/v1/downloadCertificate")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-pem-file"
    assert response.content.startswith(b"-----BEGIN CERTIFICATE-----")
    return x509.load_pem_x509_certificate(response.content)


def test_certificate_is_like_samsungs(api: Api) -> None:
    cert = _served(api)
    assert cert.subject.rfc4514_string() == "CN=*.samsungknox.com"
    assert "not Samsung" in cert.issuer.rfc4514_string()
    assert cert.public_key().key_size == 2048  # type: ignore[union-attr]
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha256"
    now = dt.datetime.now(dt.UTC)
    assert cert.not_valid_before_utc < now < cert.not_valid_after_utc
    assert api.http.get("/kcs/kwn/v0.1/downloadCertificate").content == api.emu.certificate_pem


def test_certificate_needs_a_token_and_honours_accept(api: Api) -> None:
    assert httpx2.get(api.emu.base_url + "/kwn/v1/downloadCertificate").status_code == 401
    assert (
        api.http.get(
            "/kwn/v1/downloadCertificate", headers={"Accept": "application/json"}
        ).status_code
        == 406
    )
    assert (
        api.http.get("/kwn/v1/downloadCertificate", headers={"Accept": "application/*"}).status_code
        == 200
    )


def test_expire_and_not_yet_valid_and_back(api: Api) -> None:
    original = _served(api)
    now = dt.datetime.now(dt.UTC)
    api.emu.set_certificate("expire")
    expired = _served(api)
    assert expired.not_valid_after_utc < now
    api.emu.set_certificate("not-yet-valid")
    future = _served(api)
    assert future.not_valid_before_utc > now
    api.emu.set_certificate("valid")
    again = _served(api)
    assert again.not_valid_before_utc < now < again.not_valid_after_utc
    assert _spki(original) == _spki(expired) == _spki(future) == _spki(again)


def test_rotation_keeps_or_changes_the_key(api: Api) -> None:
    original = _served(api)
    same = api.emu.set_certificate("rotate-same-key")
    renewed = _served(api)
    assert renewed.serial_number != original.serial_number
    assert _spki(renewed) == _spki(original)
    assert same["serial"] == format(renewed.serial_number, "x")
    api.emu.set_certificate("rotate-new-key")
    rotated = _served(api)
    assert _spki(rotated) != _spki(original)
    api.emu.set_certificate("rotate-new-key")  # leave the module emulator usable


def test_bad_certificate_action_is_400(emulator: EmulatorHandle) -> None:
    response = httpx2.post(emulator.base_url + "/_emulator/certificate", json={"action": "burn"})
    assert response.status_code == 400
    assert "rotate-same-key" in response.json()["data"]


def test_cert_state_at_start_uses_the_clock() -> None:
    now = 2_000_000_000.0  # 2033
    with running_emulator(now=lambda: now, cert_state="expire") as emu:
        cert = x509.load_pem_x509_certificate(emu.certificate_pem)
    assert cert.not_valid_after_utc.timestamp() < now


def test_key_and_certificate_are_kept_in_the_data_dir(tmp_path: Path) -> None:
    with running_emulator(data_dir=tmp_path / "state") as emu:
        first = emu.certificate_pem
    key_file = tmp_path / "state" / "signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    with running_emulator(data_dir=tmp_path / "state") as emu:
        assert emu.certificate_pem == first
        emu.set_certificate("rotate-same-key")
        renewed = emu.certificate_pem
    with running_emulator(data_dir=tmp_path / "state", cert_state="rotate-new-key") as emu:
        rotated = emu.certificate_pem
    load = x509.load_pem_x509_certificate
    assert _spki(load(renewed)) == _spki(load(first)) != _spki(load(rotated))
    assert not list((tmp_path / "state").glob(".*.tmp"))


@pytest.mark.parametrize("action", ["valid", "expire", "not-yet-valid", "rotate-same-key"])
def test_describe_reports_the_public_key_pin(emulator: EmulatorHandle, action: str) -> None:
    before = httpx2.get(emulator.base_url + "/_emulator/certificate").json()
    after = emulator.set_certificate(action)
    assert after["publicKeySha256"] == before["publicKeySha256"]
    assert after["fingerprintSha256"] != before["fingerprintSha256"]

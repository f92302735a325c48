"""knoxhook.certs: reading the real Samsung certificates, storing, pinning, ensuring."""

from __future__ import annotations

import base64
import hashlib
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from knoxhook import certs, wire
from knoxhook.config import load_settings
from knoxhook.errors import CertificateError, TransportError
from tests.external import require_program

NOW = datetime(2026, 11, 29, tzinfo=UTC)
# computed independently: openssl x509 -pubkey | openssl pkey -pubin -outform der
#   | openssl dgst -sha256 -binary | base64
SAMSUNG_PIN = "x71HI7A1hpWjATOBgPwNKWrrSXPDwdiN1+8Zff3SNSc="

_KEYS: list[rsa.RSAPrivateKey] = []


def make_cert(
    *,
    not_before: datetime,
    not_after: datetime,
    key: rsa.RSAPrivateKey | None = None,
    cn: str = "*.example.test",
) -> bytes:
    """A self-signed PEM certificate (RSA 2048; the key is reused across calls for speed)."""
    if key is None:
        if not _KEYS:
            _KEYS.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        key = _KEYS[0]
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def valid_cert(days_left: int = 365, **kw: Any) -> bytes:
    now = datetime.now(UTC)
    return make_cert(
        not_before=now - timedelta(days=1), not_after=now + timedelta(days=days_left, hours=1), **kw
    )


class FakeCertClient:
    """Answers GET /kwn/v1/downloadCertificate with ``body``; records requests."""

    def __init__(self, body: bytes | Exception) -> None:
        self.body = body
        self.calls: list[tuple[str, str, str]] = []
        self.closed = False

    def request(self, method: str, path: str, *, accept: str = "application/json") -> Any:
        self.calls.append((method, path, accept))
        if isinstance(self.body, Exception):
            raise self.body
        return httpx2.Response(200, content=self.body)

    def close(self) -> None:
        self.closed = True


# --- reading -----------------------------------------------------------------------------


def test_2024_certificate_reads_with_fingerprint_pin_and_dates(samsung_cert_2024: bytes) -> None:
    info = certs.inspect_pem(samsung_cert_2024, now=NOW)
    data = info.to_json()
    assert list(data) == [
        "subject",
        "issuer",
        "not_before",
        "not_after",
        "sha256_fingerprint",
        "spki_sha256",
        "expired",
        "days_left",
    ]
    assert data["sha256_fingerprint"].startswith("D0:76:96:32")
    assert data["sha256_fingerprint"].endswith("C4:43:9C:CC")
    assert len(data["sha256_fingerprint"].split(":")) == 32
    assert "CN=*.samsungknox.com" in data["subject"]
    assert "CN=Samsung Service Server" in data["issuer"]
    assert data["not_before"] == "2024-09-25T21:19:33Z"
    assert data["not_after"] == "2027-09-25T21:19:33Z"
    assert data["spki_sha256"] == SAMSUNG_PIN
    assert data["expired"] is False
    assert data["days_left"] == 300
    info.check_valid()  # no error


def test_2022_certificate_is_expired_and_has_the_same_key_pin(
    samsung_cert_2022: bytes, samsung_cert_2024: bytes
) -> None:
    old = certs.inspect_pem(samsung_cert_2022, now=NOW)
    new = certs.inspect_pem(samsung_cert_2024, now=NOW)
    assert old.expired is True
    assert old.days_left < 0
    assert old.to_json()["not_after"] == "2025-10-30T05:17:14Z"
    assert old.spki_sha256 == new.spki_sha256 == SAMSUNG_PIN
    assert old.sha256_fingerprint != new.sha256_fingerprint
    with pytest.raises(CertificateError, match=r"expired on 2025-10-30T05:17:14Z"):
        old.check_valid()


def test_pin_matches_openssl(samsung_cert_2024: bytes, tmp_path: Path) -> None:
    require_program("openssl", install="apt-get install openssl")
    pem = tmp_path / "c.pem"
    pem.write_bytes(samsung_cert_2024)
    pub = subprocess.run(
        ["openssl", "x509", "-in", str(pem), "-pubkey", "-noout"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"],
        input=pub,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout

    assert (
        certs.inspect_pem(samsung_cert_2024).spki_sha256
        == base64.b64encode(hashlib.sha256(der).digest()).decode()
    )


def test_not_yet_valid_certificate_is_refused() -> None:
    future = datetime.now(UTC) + timedelta(days=10)
    info = certs.inspect_pem(make_cert(not_before=future, not_after=future + timedelta(days=90)))
    assert info.not_yet_valid is True
    with pytest.raises(CertificateError, match="not valid before"):
        info.check_valid()


@pytest.mark.parametrize(
    "garbage", [b"", b"hello", b"-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n"]
)
def test_garbage_is_a_one_line_certificate_error(garbage: bytes) -> None:
    with pytest.raises(CertificateError) as exc:
        certs.load_certificates(garbage)
    assert "\n" not in exc.value.message
    assert exc.value.exit_code == 8


def test_der_and_pem_chains_are_read(samsung_cert_2022: bytes, samsung_cert_2024: bytes) -> None:
    assert len(certs.load_certificates(samsung_cert_2024 + samsung_cert_2022)) == 2
    der = certs.load_certificates(samsung_cert_2024)[0].public_bytes(serialization.Encoding.DER)
    assert certs.inspect_pem(der).spki_sha256 == SAMSUNG_PIN


# --- storage -----------------------------------------------------------------------------


def test_store_is_atomic_0600_in_a_0700_dir(samsung_cert_2024: bytes) -> None:
    settings = load_settings(overrides={"base_url": "http://127.0.0.1:8765"})
    path = certs.store(settings, samsung_cert_2024)
    assert path == settings.cache_dir / "certificates" / "127.0.0.1_8765.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert certs.read_stored(settings) == samsung_cert_2024
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left


def test_store_refuses_garbage_and_keeps_the_old_file(samsung_cert_2024: bytes) -> None:
    settings = load_settings()
    certs.store(settings, samsung_cert_2024)
    with pytest.raises(CertificateError):
        certs.store(settings, b"not a cert")
    assert certs.read_stored(settings) == samsung_cert_2024


def test_stored_path_is_per_base_url_not_per_profile() -> None:
    a = load_settings(profile="a", overrides={"base_url": "https://api.samsungknox.com"})
    b = load_settings(profile="b", overrides={"base_url": "https://api.samsungknox.com/"})
    c = load_settings(overrides={"base_url": "http://127.0.0.1:9000"})
    d = load_settings(overrides={"base_url": "http://127.0.0.1:9000/tenant"})
    assert certs.stored_path(a) == certs.stored_path(b)
    assert certs.stored_path(a).name == "api.samsungknox.com.pem"
    assert len({certs.stored_path(a), certs.stored_path(c), certs.stored_path(d)}) == 3
    assert certs.read_stored(a) is None


# --- pinning -----------------------------------------------------------------------------


def test_compare_tells_renewal_from_key_change(
    samsung_cert_2022: bytes, samsung_cert_2024: bytes
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    foreign = valid_cert(key=other_key)
    assert certs.compare(None, samsung_cert_2024) is certs.Change.NEW
    assert certs.compare(samsung_cert_2024, samsung_cert_2024) is certs.Change.UNCHANGED
    assert certs.compare(samsung_cert_2022, samsung_cert_2024) is certs.Change.RENEWAL
    assert certs.compare(samsung_cert_2024, foreign) is certs.Change.KEY_CHANGED
    assert certs.compare(b"junk", samsung_cert_2024) is certs.Change.NEW


# --- download and ensure -----------------------------------------------------------------


def test_download_asks_for_pem_at_the_certificate_path(samsung_cert_2024: bytes) -> None:
    client = FakeCertClient(samsung_cert_2024)
    assert certs.download(client) == samsung_cert_2024
    assert client.calls == [("GET", wire.certificate_path(), "application/x-pem-file, */*")]
    assert wire.certificate_path() == "/kwn/v1/downloadCertificate"


def test_download_refuses_a_body_that_is_not_a_certificate() -> None:
    with pytest.raises(CertificateError, match="did not return a PEM certificate"):
        certs.download(FakeCertClient(b'{"code": 1}'))


def test_ensure_uses_a_valid_stored_certificate_without_any_request() -> None:
    settings = load_settings()
    pem = valid_cert()
    certs.store(settings, pem)

    def no_client(_: Any) -> Any:
        raise AssertionError("must not connect")

    assert certs.ensure_certificate(settings, client_factory=no_client) == pem


def test_ensure_downloads_and_stores_when_nothing_is_stored(samsung_cert_2024: bytes) -> None:
    settings = load_settings()
    client = FakeCertClient(samsung_cert_2024)
    assert certs.ensure_certificate(settings, now=NOW, client_factory=lambda _: client) == (
        samsung_cert_2024
    )
    assert len(client.calls) == 1
    assert client.closed
    assert certs.read_stored(settings) == samsung_cert_2024


def test_ensure_replaces_an_expired_stored_certificate(
    samsung_cert_2022: bytes, samsung_cert_2024: bytes
) -> None:
    settings = load_settings()
    certs.store(settings, samsung_cert_2022)
    client = FakeCertClient(samsung_cert_2024)
    pem = certs.ensure_certificate(settings, now=NOW, client_factory=lambda _: client)
    assert pem == samsung_cert_2024
    assert certs.read_stored(settings) == samsung_cert_2024


def test_ensure_refuses_an_expired_download_and_keeps_nothing(samsung_cert_2022: bytes) -> None:
    settings = load_settings()
    client = FakeCertClient(samsung_cert_2022)
    with pytest.raises(CertificateError, match="expired"):
        certs.ensure_certificate(settings, now=NOW, client_factory=lambda _: client)
    assert certs.read_stored(settings) is None
    assert client.closed


def test_ensure_passes_network_errors_through_and_closes_the_client() -> None:
    settings = load_settings()
    client = FakeCertClient(TransportError("connection refused"))
    with pytest.raises(TransportError):
        certs.ensure_certificate(settings, client_factory=lambda _: client)
    assert client.closed


def test_fetch_and_store_reports_a_key_change(
    samsung_cert_2024: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings()
    certs.store(settings, samsung_cert_2024)
    foreign = valid_cert(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    result = certs.fetch_and_store(settings, FakeCertClient(foreign))
    assert result.change is certs.Change.KEY_CHANGED
    assert result.path == certs.stored_path(settings)
    assert certs.read_stored(settings) == foreign
    # the caller says it (`cert fetch` in its own words): one warning, not two
    assert "public key changed" not in caplog.text


def test_download_valid_warns_of_a_key_change_once(
    samsung_cert_2024: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings()
    certs.store(settings, samsung_cert_2024)
    foreign = valid_cert(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert certs.download_valid(settings, client_factory=lambda _: FakeCertClient(foreign))
    warnings = [r for r in caplog.records if "public key changed" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelname == "WARNING"


# --- days by the calendar (issue 9, defect 6) --------------------------------------------


@pytest.mark.parametrize(
    ("not_after", "now", "days_left", "when"),
    [
        # ended yesterday morning, read late today: "yesterday", -1 (floor said -2)
        ("2026-03-09T06:00:00", "2026-03-10T22:00:00", -1, "expired yesterday"),
        ("2026-03-09T23:59:59", "2026-03-10T00:00:00", -1, "expired yesterday"),
        ("2026-03-10T00:00:00", "2026-03-10T00:00:00", 0, "expired today"),
        ("2026-03-07T12:00:00", "2026-03-10T11:00:00", -3, "expired 3 days ago"),
        ("2026-03-10T23:59:59", "2026-03-10T00:00:01", 0, "expires today"),
        ("2026-03-11T00:00:01", "2026-03-10T23:59:59", 1, "expires tomorrow"),
        ("2026-03-20T01:00:00", "2026-03-10T23:00:00", 10, "expires in 10 days"),
        # across a leap day and a year end
        ("2028-03-01T00:00:00", "2028-02-28T12:00:00", 2, "expires in 2 days"),
        ("2026-12-31T23:00:00", "2027-01-01T01:00:00", -1, "expired yesterday"),
    ],
)
def test_days_left_counts_calendar_days_in_utc(
    not_after: str, now: str, days_left: int, when: str
) -> None:
    end = datetime.fromisoformat(not_after).replace(tzinfo=UTC)
    at = datetime.fromisoformat(now).replace(tzinfo=UTC)
    pem = make_cert(not_before=end - timedelta(days=400), not_after=end)
    info = certs.inspect_pem(pem, now=at)
    assert (info.days_left, info.when) == (days_left, when)
    assert info.expired is (at >= end)
    if info.expired:
        with pytest.raises(CertificateError) as exc:
            info.check_valid()
        assert f"({when.removeprefix('expired ')})" in exc.value.message


def test_a_clock_in_another_zone_is_counted_in_utc() -> None:
    from datetime import timezone

    end = datetime(2026, 3, 9, 6, 0, tzinfo=UTC)
    tokyo = datetime(2026, 3, 10, 7, 0, tzinfo=timezone(timedelta(hours=9)))  # 3-9 22:00 UTC
    info = certs.inspect_pem(
        make_cert(not_before=end - timedelta(days=9), not_after=end), now=tokyo
    )
    assert (info.days_left, info.when) == (0, "expired today")

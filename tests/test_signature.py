"""verify_callback: every signing form, every refusal reason, rotation, fuzzing."""

from __future__ import annotations

import base64
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knoxhook.errors import CallbackVerificationError, ExitCode
from knoxhook.receiver.nonces import MemoryNonceStore
from knoxhook.signature import Attempt, Reason, verify_callback
from tests.receiver.signing import JOSE_RS256, Signer, b64url

FORMS = [
    ({"compact": False, "padded": True, "detached": True}, "raw-body/padded/detached"),
    ({"compact": False, "padded": False, "detached": True}, "raw-body/unpadded/detached"),
    ({"compact": True, "padded": True, "detached": True}, "compact-json/padded/detached"),
    ({"compact": True, "padded": False, "detached": True}, "compact-json/unpadded/detached"),
    ({"compact": False, "padded": False, "detached": False}, "raw-body/unpadded/attached"),
    ({"compact": True, "padded": True, "detached": False}, "compact-json/padded/attached"),
]


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.create()


@pytest.fixture(scope="module")
def other() -> Signer:
    return Signer.create()


def refusal(
    body: bytes, headers: dict[str, str], certs: list[x509.Certificate], **kw: object
) -> CallbackVerificationError:
    with pytest.raises(CallbackVerificationError) as exc:
        verify_callback(body, headers, certs, **kw)  # type: ignore[arg-type]
    assert exc.value.exit_code == ExitCode.VERIFICATION
    return exc.value


@pytest.mark.parametrize(("form", "name"), FORMS)
def test_every_signing_form_verifies_and_is_reported(
    signer: Signer, form: dict[str, bool], name: str
) -> None:
    body, headers = signer.callback(nonce="n-1", **form)
    result = verify_callback(body, headers, [signer.cert])
    assert result.form == name
    assert result.event == "KDMS_DEVICE_UPLOAD"
    assert result.subscription_id == "63689d7e4ee2721f7b50d2b1"
    assert result.payload == {"successCount": 1}
    assert result.nonce == "n-1"
    assert result.trace_id == headers["X-WSM-TRACEID"]
    assert (
        result.certificate_fingerprint
        == signer.cert.fingerprint(
            __import__("cryptography.hazmat.primitives.hashes", fromlist=["SHA256"]).SHA256()
        ).hex()
    )


def test_headers_are_case_insensitive_and_pem_bytes_are_accepted(signer: Signer) -> None:
    body, headers = signer.callback()
    lowered = {k.lower(): v for k, v in headers.items()}
    upper = {k.upper(): v for k, v in headers.items()}
    assert verify_callback(body, lowered, [signer.pem]).event == "KDMS_DEVICE_UPLOAD"
    assert verify_callback(body, upper, [signer.pem]).event == "KDMS_DEVICE_UPLOAD"


def test_tampered_body_is_bad_signature(signer: Signer) -> None:
    body, headers = signer.callback()
    err = refusal(
        body.replace(b"KDMS_DEVICE_UPLOAD", b"KDMS_DEVICE_DELETE"), headers, [signer.cert]
    )
    assert err.reason == Reason.BAD_SIGNATURE
    assert "does not match the body" in err.message


def test_tampered_attached_body_is_bad_signature_part1_does_not_rescue_it(signer: Signer) -> None:
    body, headers = signer.callback(detached=False)
    err = refusal(body.replace(b'"successCount": 1', b'"successCount": 2'), headers, [signer.cert])
    assert err.reason == Reason.BAD_SIGNATURE


def test_part1_other_than_the_signed_bytes_is_ignored_and_explained(signer: Signer) -> None:
    # Samsung's sample never reads part 1, so neither does the signing input
    body, headers = signer.callback()  # detached; now put another payload into part 1
    part0, _, part2 = headers["X-WSM-SIGNATURE"].split(".")
    for part1 in (b64url(b"{}", padded=False), "not*base64"):
        headers["X-WSM-SIGNATURE"] = f"{part0}.{part1}.{part2}"
        steps: list[Attempt] = []
        result = verify_callback(body, headers, [signer.cert], explain=steps)
        assert result.form == "raw-body/padded/attached"
        notes = [a.outcome for a in steps if "part 1" in a.outcome]
        why = "part 1 is not the signed bytes; ignored, as Samsung's sample ignores it"
        assert notes == [f"ok: {why}"]
        assert verify_callback(body, headers, [signer.cert]).signed_bytes == body


def test_wrong_certificate_is_bad_signature(signer: Signer, other: Signer) -> None:
    body, headers = signer.callback()
    assert refusal(body, headers, [other.cert]).reason == Reason.BAD_SIGNATURE


def test_rotation_any_trusted_certificate_verifies(signer: Signer, other: Signer) -> None:
    body, headers = signer.callback()
    assert verify_callback(body, headers, [other.cert, signer.cert]).certificate_fingerprint


def test_expired_certificate_is_refused_precisely() -> None:
    past = datetime.now(UTC) - timedelta(days=30)
    old = Signer.create(not_before=past - timedelta(days=400), not_after=past)
    body, headers = old.callback()
    err = refusal(body, headers, [old.cert])
    assert err.reason == Reason.CERTIFICATE_EXPIRED
    assert f"expired on {past:%Y-%m-%d}" in err.message


def test_not_yet_valid_certificate_is_refused_precisely(signer: Signer) -> None:
    future = Signer.create(key=signer.key, not_before=datetime.now(UTC) + timedelta(days=3))
    body, headers = signer.callback()
    err = refusal(body, headers, [future.cert])
    assert err.reason == Reason.CERTIFICATE_NOT_YET_VALID
    # the same callback verifies once the certificate is valid (injected clock)
    later = datetime.now(UTC) + timedelta(days=4)
    assert verify_callback(body, headers, [future.cert], now=later).form


def test_expired_and_renewed_certificate_with_same_key_verifies(signer: Signer) -> None:
    past = datetime.now(UTC) - timedelta(days=1)
    old = Signer.create(key=signer.key, not_before=past - timedelta(days=9), not_after=past)
    body, headers = signer.callback()
    assert verify_callback(body, headers, [old.cert, signer.cert]).form


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, Reason.MISSING_SIGNATURE),
        ("   ", Reason.MISSING_SIGNATURE),
        ("abc", Reason.MALFORMED_SIGNATURE_HEADER),
        ("a.b.c.d", Reason.MALFORMED_SIGNATURE_HEADER),
        (f"{JOSE_RS256}..", Reason.MALFORMED_SIGNATURE_HEADER),
        (f"{JOSE_RS256}..not*base64", Reason.MALFORMED_SIGNATURE_HEADER),
        ("bm90IGpzb24..c2ln", Reason.MALFORMED_SIGNATURE_HEADER),
        (f"{b64url(b'[1]', padded=False)}..c2ln", Reason.MALFORMED_SIGNATURE_HEADER),
        # any alg is checked as RS256 with the trusted key: these are just bad signatures
        (b64url(b'{"alg":"HS256"}', padded=False) + "..c2ln", Reason.BAD_SIGNATURE),
        (b64url(b'{"alg":"none"}', padded=False) + "..c2ln", Reason.BAD_SIGNATURE),
        (b64url(b'{"alg":"none"}', padded=False) + "..", Reason.MALFORMED_SIGNATURE_HEADER),
        (f"{JOSE_RS256}..c2ln", Reason.BAD_SIGNATURE),
    ],
)
def test_malformed_headers_are_refused_with_their_reason(
    signer: Signer, value: str | None, reason: Reason
) -> None:
    body, headers = signer.callback()
    del headers["X-WSM-SIGNATURE"]
    if value is not None:
        headers["x-wsm-signature"] = value
    assert refusal(body, headers, [signer.cert]).reason == reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", Reason.BODY_NOT_JSON),
        (b'["a"]', Reason.BODY_NOT_OBJECT),
        (b'{"event": "KG_DEVICE_LOCKED"}', Reason.MISSING_FIELD),
        (b'{"event": 1, "subscriptionId": "x"}', Reason.MISSING_FIELD),
        (b"\xff\xfe", Reason.BODY_NOT_JSON),
    ],
)
def test_signed_but_unusable_bodies_are_refused_after_the_signature(
    signer: Signer, body: bytes, reason: Reason
) -> None:
    _, headers = signer.callback(body=body)
    assert refusal(body, headers, [signer.cert]).reason == reason


def test_body_with_whitespace_around_the_json_verifies(signer: Signer) -> None:
    body, headers = signer.callback(body=b' \n{"event": "E", "subscriptionId": "s"}\n')
    assert verify_callback(body, headers, [signer.cert]).event == "E"


def test_too_large_body_is_refused_before_any_crypto(signer: Signer) -> None:
    body, headers = signer.callback()
    err = refusal(body, headers, [signer.cert], max_body_bytes=10)
    assert err.reason == Reason.BODY_TOO_LARGE


def test_no_certificate(signer: Signer) -> None:
    body, headers = signer.callback()
    assert refusal(body, headers, []).reason == Reason.NO_CERTIFICATE


def test_missing_nonce_is_refused_unless_not_required(signer: Signer) -> None:
    body, headers = signer.callback()
    del headers["x-knox-nonce"]
    assert refusal(body, headers, [signer.cert]).reason == Reason.MISSING_NONCE
    assert verify_callback(body, headers, [signer.cert], require_nonce=False).nonce is None


def test_replayed_nonce_is_refused_and_only_verified_nonces_are_remembered(signer: Signer) -> None:
    store = MemoryNonceStore()
    body, headers = signer.callback(nonce="once")
    forged = body.replace(b"UPLOAD", b"DELETE")
    assert refusal(forged, headers, [signer.cert], nonce_store=store).reason == Reason.BAD_SIGNATURE
    assert len(store) == 0  # a forgery must not burn the real callback's nonce
    assert verify_callback(body, headers, [signer.cert], nonce_store=store).nonce == "once"
    err = refusal(body, headers, [signer.cert], nonce_store=store)
    assert err.reason == Reason.REPLAYED_NONCE
    assert "'once' was already seen" in err.message


def test_explain_lists_each_signing_input_tried(signer: Signer, other: Signer) -> None:
    body, headers = signer.callback(compact=True, padded=False)
    steps: list[Attempt] = []
    result = verify_callback(body, headers, [other.cert, signer.cert], explain=steps)
    tried = [(a.form, a.outcome) for a in steps if a.step == "signature" and a.certificate]
    assert tried[0] == ("raw-body/padded", "signature does not match")
    assert tried[-1] == ("compact-json/unpadded", "ok")
    order = list(dict.fromkeys(form for form, _ in tried))
    assert order[:2] == ["raw-body/padded", "raw-body/unpadded"]
    assert order[2].startswith("samsung-reserialized/")  # Samsung's form before compact
    assert order[-2:] == ["compact-json/padded", "compact-json/unpadded"]
    assert len(tried) == 2 * len(order)  # every form with both certificates
    assert result.form == "compact-json/unpadded/detached"
    assert all(
        a.signing_input and a.signing_input.startswith(JOSE_RS256[:24])
        for a in steps
        if a.form and a.certificate
    )
    steps.clear()
    with pytest.raises(CallbackVerificationError):
        verify_callback(body + b" ", headers, [other.cert], explain=steps)
    assert steps[-1].outcome.startswith("bad_signature:")


def test_real_samsung_certificates_load_as_trusted(
    samsung_cert_2022: bytes, samsung_cert_2024: bytes, signer: Signer
) -> None:
    # We have no callback signed by Samsung; this proves the real certificates load and
    # are used (a callback signed by another key is refused as a bad signature, and only
    # the 2024 one is valid now: the 2022 one shares its key, so no "expired" verdict).
    body, headers = signer.callback()
    err = refusal(body, headers, [samsung_cert_2022, samsung_cert_2024])
    assert err.reason == Reason.BAD_SIGNATURE
    assert "1 trusted" in err.message
    err = refusal(body, headers, [samsung_cert_2022])
    assert err.reason == Reason.BAD_SIGNATURE
    assert "none of the 1 trusted certificate(s) is valid" in err.message


# --- interop with the openssl CLI ---------------------------------------------------------


@pytest.fixture(scope="module")
def openssl_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A key and a self-signed certificate made by the openssl CLI."""
    root = tmp_path_factory.mktemp("openssl")
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
            "30",
            "-subj",
            "/CN=*.samsungknox.test",
            "-keyout",
            str(root / "key.pem"),
            "-out",
            str(root / "cert.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return root


def openssl_sign(root: Path, body: bytes, *, padded: bool, detached: bool) -> str:
    encoded = b64url(body, padded=padded)
    data = root / "input.txt"
    data.write_bytes(f"{JOSE_RS256}.{encoded}".encode())
    sig = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", str(root / "key.pem"), str(data)],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    return f"{JOSE_RS256}.{'' if detached else encoded}.{b64url(sig, padded=False)}"


@pytest.mark.parametrize(
    ("padded", "detached", "form"),
    [
        (True, True, "raw-body/padded/detached"),
        (False, True, "raw-body/unpadded/detached"),
        (False, False, "raw-body/unpadded/attached"),
    ],
)
def test_callbacks_signed_by_openssl_verify(
    openssl_pki: Path, padded: bool, detached: bool, form: str
) -> None:
    body = json.dumps(
        {"subscriptionId": "123456789123", "event": "KG_DEVICE_LOCKED", "payload": {"imei": "1"}}
    ).encode()
    headers = {
        "X-WSM-SIGNATURE": openssl_sign(openssl_pki, body, padded=padded, detached=detached),
        "x-knox-nonce": "n",
    }
    cert = (openssl_pki / "cert.pem").read_bytes()
    assert verify_callback(body, headers, [cert]).form == form
    err = refusal(
        body.replace(b"LOCKED", b"UNLOCKED"), headers, [x509.load_pem_x509_certificate(cert)]
    )
    assert err.reason == Reason.BAD_SIGNATURE  # part 1 is ignored, attached or not


# --- fuzzing --------------------------------------------------------------------------------

_part = st.text(alphabet="ABCDEFabcdef0123456789-_=+/.* \u00e9", max_size=40)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=st.one_of(
        _part,
        st.builds(lambda a, b, c: f"{a}.{b}.{c}", _part, _part, _part),
        st.builds(lambda b, c: f"{JOSE_RS256}.{b}.{c}", _part, _part),
    ),
    body=st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda o: json.dumps(o).encode(),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                lambda kids: (
                    st.lists(kids, max_size=3)
                    | st.dictionaries(st.text(max_size=5), kids, max_size=3)
                ),
                max_leaves=10,
            ),
        ),
    ),
    nonce=st.one_of(st.none(), st.text(max_size=10)),
)
def test_fuzzed_headers_and_bodies_raise_only_callback_verification_error(
    signer: Signer, header: str, body: bytes, nonce: str | None
) -> None:
    headers = {"X-WSM-SIGNATURE": header}
    if nonce is not None:
        headers["x-knox-nonce"] = nonce
    with pytest.raises(CallbackVerificationError) as exc:
        verify_callback(body, headers, [signer.cert], nonce_store=MemoryNonceStore())
    assert exc.value.reason in set(Reason)


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=300), data=st.data())
def test_fuzzed_validly_signed_bodies_raise_only_callback_verification_error(
    body: bytes, data: st.DataObject
) -> None:
    signer = _SIGNER
    headers = {
        "X-WSM-SIGNATURE": signer.sign(body, padded=data.draw(st.booleans())),
        "x-knox-nonce": "n",
    }
    reasons: list[str] = []
    try:
        result = verify_callback(body, headers, [signer.cert])
    except CallbackVerificationError as exc:
        reasons.append(exc.reason)
    else:
        assert isinstance(result.event, str)
    usable = {Reason.BODY_NOT_JSON, Reason.BODY_NOT_OBJECT, Reason.MISSING_FIELD}
    assert set(reasons) <= usable | {Reason.DUPLICATE_KEY}


_SIGNER = Signer.create()


def test_deeply_nested_json_is_not_json_not_a_crash(signer: Signer) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    _, headers = signer.callback(body=body)
    assert (
        refusal(body, headers, [signer.cert], max_body_bytes=1 << 20).reason == Reason.BODY_NOT_JSON
    )
    body2 = b"[" * 100_001  # not signed: the compact attempt must not crash either
    assert refusal(body2, headers, [signer.cert]).reason == Reason.BAD_SIGNATURE


def test_base64_helper_roundtrip() -> None:
    assert base64.urlsafe_b64decode(b64url(b"\xff\xfe", padded=True)) == b"\xff\xfe"


def test_openssl_certificate_after_its_expiry_is_certificate_expired(openssl_pki: Path) -> None:
    body = b'{"subscriptionId":"1","event":"KG_DEVICE_LOCKED"}'
    headers = {"X-WSM-SIGNATURE": openssl_sign(openssl_pki, body, padded=True, detached=True)}
    cert = (openssl_pki / "cert.pem").read_bytes()  # made with -days 30
    later = datetime.now(UTC) + timedelta(days=31)
    err = refusal(
        body, headers, [x509.load_pem_x509_certificate(cert)], now=later, require_nonce=False
    )
    assert err.reason == Reason.CERTIFICATE_EXPIRED
    assert "expired on" in err.message


def test_the_public_names_import_from_knoxhook_signature() -> None:
    # The package split (results, keys, forms, verify) must not move the public API.
    from knoxhook import signature

    names = ["verify_callback", "Reason", "VerifiedCallback", "NonceStore", "trusted_keys"]
    names += ["MAX_BODY_BYTES", "Attempt", "TrustedKey", "Certificates", "header_value"]
    assert all(hasattr(signature, name) for name in names)
    assert set(names) <= set(signature.__all__)
    assert signature.MAX_BODY_BYTES == 16 * 1024 * 1024
    assert signature.Reason.BAD_SIGNATURE == "bad_signature"


def test_header_value_is_case_insensitive_and_misses_cleanly() -> None:
    from knoxhook.signature import header_value

    headers = {"x-knox-nonce": "n", "X-Wsm-TraceId": "t", "X-WSM-SIGNATURE": "s"}
    assert header_value(headers, "X-WSM-TRACEID") == "t"
    assert header_value(headers, "X-KNOX-NONCE") == "n"
    assert header_value(headers, "x-wsm-signature") == "s"
    assert header_value(headers, "X-WSM-TRACE") is None  # a prefix is not the name
    assert header_value({}, "X-WSM-TRACEID") is None

"""verify_callback and Samsung's reading: the re-serialized form, part 1, alg, the body
checks that re-serialization makes necessary (repeats, NaN, trailing bytes), strict and
allow_expired, the body limit, and the last-form cache."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from knoxhook.errors import CallbackVerificationError
from knoxhook.signature import Attempt, Reason, samsung, verify_callback
from knoxhook.signature import verify as verify_module
from tests.receiver.signing import JOSE_RS256, Signer, b64url

# Samsung's documented example bodies, as printed in the KWN tutorials
# (docs.samsungknox.com/dev/knox-webhook-notification/tutorial/knox-webhook-notification-
# for-knox-guard/ and .../for-knox-efota/, mirrored in BxOxSxS/docs.samsungknox.com)
KG_EXAMPLE = b"""{
    "subscriptionId" : "123456789123",
    "event" : "KG_DEVICE_ENROLLED",
    "payload": {
        "previousDeviceStatus": "Accepted",
        "deviceStatus": "Enrolled",
        "lastUpdatedAt": "1528202916996",
        "deviceUid": "32456783948576",
        "imei": "32456783948576",
        "imei2": "45678898765432"
    }
}
"""
EFOTA_EXAMPLE = b"""{
    "event": "KE_DEVICE_BULK_CREATE",
    "subscriptionId": "63689d7e4ee2721f7b50d2b1",
    "payload": {
        "successCount": 1,
        "failureCount": 1,
        "successfulDevices": [
            {
                "imei": "354721981931820",
                "serialNumber": null,
                "deviceId": null
            }
        ],
        "failedDevices": [
            {
                "imei": "355745090079329",
                "serialNumber": null,
                "error": "This IMEI [355745090079329] already exists for different \
reseller and customer"
            }
        ]
    }
}
"""


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.create()


def samsung_headers(
    signer: Signer, signed: bytes, *, padded: bool = True, jose: str = JOSE_RS256, part1: str = ""
) -> dict[str, str]:
    """Headers whose signature covers ``signed`` (e.g. Samsung's re-serialization)."""
    data = f"{jose}.{b64url(signed, padded=padded)}".encode()
    sig = signer.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return {"X-WSM-SIGNATURE": f"{jose}.{part1}.{b64url(sig, padded=False)}", "x-knox-nonce": "n"}


def refusal(body: bytes, headers: dict[str, str], signer: Signer, **kw: object) -> Reason:
    with pytest.raises(CallbackVerificationError) as exc:
        verify_callback(body, headers, [signer.cert], **kw)  # type: ignore[arg-type]
    return exc.value.reason


@pytest.mark.parametrize("body", [KG_EXAMPLE, EFOTA_EXAMPLE], ids=["knox-guard", "e-fota"])
@pytest.mark.parametrize("padded", [True, False])
def test_samsungs_documented_bodies_verify_when_samsungs_reserialization_is_signed(
    signer: Signer, body: bytes, padded: bool
) -> None:
    signed = samsung.reserialize(body)
    assert signed is not None
    assert signed.startswith(b'{"payload":{')  # HashMap order: payload first, as §5 says
    result = verify_callback(body, samsung_headers(signer, signed, padded=padded), [signer.cert])
    assert result.form == f"samsung-reserialized/{'padded' if padded else 'unpadded'}/detached"
    assert result.signed_bytes == signed
    assert result.body_is_signed is False  # forward and record signed_bytes, not the body
    assert result.event in {"KG_DEVICE_ENROLLED", "KE_DEVICE_BULK_CREATE"}


def test_raw_form_fills_signed_bytes_and_signature_digest(signer: Signer) -> None:
    body, headers = signer.callback()
    result = verify_callback(body, headers, [signer.cert])
    assert result.form == "raw-body/padded/detached"
    assert result.signed_bytes == body
    assert result.body_is_signed is True
    sig = headers["X-WSM-SIGNATURE"].split(".")[2]
    raw_sig = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    assert result.signature_sha256 == hashlib.sha256(raw_sig).hexdigest()


def test_a_body_that_is_already_samsungs_string_verifies_as_raw(signer: Signer) -> None:
    signed = samsung.reserialize(KG_EXAMPLE)
    assert signed is not None
    steps: list[Attempt] = []
    result = verify_callback(signed, samsung_headers(signer, signed), [signer.cert], explain=steps)
    assert result.form == "raw-body/padded/detached"
    assert result.body_is_signed is True


def test_samsung_form_is_malleable_but_forwards_only_the_signed_bytes(signer: Signer) -> None:
    signed = samsung.reserialize(KG_EXAMPLE)
    assert signed is not None
    headers = samsung_headers(signer, signed)
    document = json.loads(KG_EXAMPLE)  # payload moved first; other whitespace
    moved = {
        "payload": document["payload"],
        **{k: v for k, v in document.items() if k != "payload"},
    }
    reordered = json.dumps(moved, indent=3).encode()
    result = verify_callback(reordered, headers, [signer.cert])
    assert result.signed_bytes == signed  # the bytes that verified, not the received ones
    assert result.body_is_signed is False
    tampered = KG_EXAMPLE.replace(b"Enrolled", b"Locked")
    assert refusal(tampered, headers, signer) == Reason.BAD_SIGNATURE


def test_repeated_event_placed_first_is_refused_as_duplicate_key(signer: Signer) -> None:
    # Jackson keeps the LAST "event"; an app parser keeping the first would see UNLOCKED
    genuine = b'{"event":"KG_DEVICE_LOCKED","subscriptionId":"s","payload":{}}'
    signed = samsung.reserialize(genuine)
    assert signed is not None
    attack = b'{"event":"KG_DEVICE_UNLOCKED","subscriptionId":"s",' + genuine[1:]
    assert samsung.reserialize(attack) == signed  # the sample would accept it
    assert refusal(attack, samsung_headers(signer, signed), signer) == Reason.DUPLICATE_KEY


@pytest.mark.parametrize(
    "body",
    [
        b'{"subscriptionId":"s","event":"E","event":"E"}',
        b'{"subscriptionId":"s","event":"E","payload":{"a":1,"a":1}}',
        b'{"subscriptionId":"s","event":"E","payload":[{"x":{"k":1,"k":2}}]}',
    ],
)
def test_repeated_names_at_any_depth_are_refused_even_when_raw_signed(
    signer: Signer, body: bytes
) -> None:
    _, headers = signer.callback(body=body)
    assert refusal(body, headers, signer) == Reason.DUPLICATE_KEY


@pytest.mark.parametrize(
    "body",
    [
        b'{"subscriptionId":"s","event":"E","payload":NaN}',
        b'{"subscriptionId":"s","event":"E","payload":[Infinity]}',
        b'{"subscriptionId":"s","event":"E","payload":-Infinity}',
    ],
)
def test_nan_and_infinity_are_not_json(signer: Signer, body: bytes) -> None:
    _, headers = signer.callback(body=body)
    assert refusal(body, headers, signer) == Reason.BODY_NOT_JSON


def test_bytes_after_the_json_value_are_refused_in_every_form(signer: Signer) -> None:
    body = b'{"subscriptionId":"s","event":"E"} {"event":"X"}'
    _, headers = signer.callback(body=body)  # signed as received
    assert refusal(body, headers, signer) == Reason.BODY_NOT_JSON
    signed = samsung.reserialize(body)  # Jackson ignores the tail: the sample accepts it
    assert signed == b'{"subscriptionId":"s","event":"E"}'
    assert refusal(body, samsung_headers(signer, signed), signer) == Reason.BODY_NOT_JSON


def test_any_jose_alg_is_verified_as_rs256_and_reported(signer: Signer) -> None:
    body = KG_EXAMPLE
    for alg in (b'{"alg":"none"}', b'{"alg":"HS256","typ":"JWT"}', b'{"alg":"ES512"}'):
        jose = b64url(alg, padded=False)
        headers = samsung_headers(signer, body, jose=jose)
        steps: list[Attempt] = []
        result = verify_callback(body, headers, [signer.cert], explain=steps)
        assert result.form == "raw-body/padded/detached"
        assert "ignored, verified as RS256" in steps[0].outcome
    no_alg = samsung_headers(signer, body, jose=b64url(b'{"typ":"JWT"}', padded=False))
    assert refusal(body, no_alg, signer) == Reason.MALFORMED_SIGNATURE_HEADER  # RFC 7515


def test_hs256_key_confusion_and_alg_none_cannot_verify(signer: Signer) -> None:
    # the classic attacks: HMAC keyed with the public certificate, or no signature at all
    body = KG_EXAMPLE
    jose = b64url(b'{"alg":"HS256"}', padded=False)
    data = f"{jose}.{b64url(body, padded=True)}".encode()
    public = signer.cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (public, signer.pem):
        mac = hmac.new(secret, data, hashlib.sha256).digest()
        headers = {"X-WSM-SIGNATURE": f"{jose}..{b64url(mac, padded=False)}", "x-knox-nonce": "n"}
        assert refusal(body, headers, signer) == Reason.BAD_SIGNATURE
    none = b64url(b'{"alg":"none"}', padded=False)
    for sig in ("", "AA"):
        headers = {"X-WSM-SIGNATURE": f"{none}.{b64url(body, padded=False)}.{sig}"}
        assert refusal(body, headers, signer) in {
            Reason.MALFORMED_SIGNATURE_HEADER,
            Reason.BAD_SIGNATURE,
        }


def test_strict_accepts_only_the_raw_body(signer: Signer) -> None:
    signed = samsung.reserialize(KG_EXAMPLE)
    assert signed is not None
    headers = samsung_headers(signer, signed)
    with pytest.raises(CallbackVerificationError) as exc:
        verify_callback(KG_EXAMPLE, headers, [signer.cert], strict=True)
    assert exc.value.reason == Reason.BAD_SIGNATURE
    assert "the raw body (strict mode)" in exc.value.message
    body, raw_headers = signer.callback()
    assert verify_callback(body, raw_headers, [signer.cert], strict=True).body_is_signed


def test_expired_certificate_is_refused_unless_allowed() -> None:
    past = datetime.now(UTC) - timedelta(days=30)
    old = Signer.create(not_before=past - timedelta(days=400), not_after=past)
    signed = samsung.reserialize(EFOTA_EXAMPLE)
    assert signed is not None
    headers = samsung_headers(old, signed)
    assert refusal(EFOTA_EXAMPLE, headers, old) == Reason.CERTIFICATE_EXPIRED
    steps: list[Attempt] = []
    result = verify_callback(EFOTA_EXAMPLE, headers, [old.cert], allow_expired=True, explain=steps)
    assert result.form == "samsung-reserialized/padded/detached"
    assert any("expired on" in a.outcome and "(allowed)" in a.outcome for a in steps)
    assert verify_callback(EFOTA_EXAMPLE, headers, [old.cert], allow_expired=True).event
    future = Signer.create(key=old.key, not_before=datetime.now(UTC) + timedelta(days=3))
    assert (
        refusal(EFOTA_EXAMPLE, headers, future, allow_expired=True)
        == Reason.CERTIFICATE_NOT_YET_VALID
    )


def test_default_body_limit_is_16_mib_and_configurable(signer: Signer) -> None:
    devices = [
        {"imei": f"35{i:013d}", "serialNumber": None, "deviceId": None} for i in range(20000)
    ]
    document = {
        "event": "KE_DEVICE_BULK_CREATE",
        "subscriptionId": "s",
        "payload": {"successCount": 20000, "failureCount": 0, "successfulDevices": devices},
    }
    body = json.dumps(document, indent=2).encode()
    assert len(body) > 2_000_000
    signed = samsung.reserialize(body)
    assert signed is not None
    headers = samsung_headers(signer, signed)
    assert verify_callback(body, headers, [signer.cert]).form.startswith("samsung-reserialized/")
    assert refusal(body, headers, signer, max_body_bytes=1 << 20) == Reason.BODY_TOO_LARGE
    assert verify_module.MAX_BODY_BYTES == 16 * 1024 * 1024


def test_the_last_matching_form_is_tried_first_and_others_still_verify(signer: Signer) -> None:
    signed = samsung.reserialize(KG_EXAMPLE)
    assert signed is not None
    headers = samsung_headers(signer, signed)
    fingerprint = verify_callback(KG_EXAMPLE, headers, [signer.cert]).certificate_fingerprint
    assert verify_module._preferred[fingerprint] == "samsung-reserialized/padded"
    # the next raw-signed callback still verifies (the cached form is only tried first)
    body, raw_headers = signer.callback()
    assert verify_callback(body, raw_headers, [signer.cert]).form == "raw-body/padded/detached"
    assert verify_module._preferred[fingerprint] == "raw-body/padded"
    # and forgeries are refused whichever form is cached
    assert refusal(body + b" ", headers, signer) == Reason.BAD_SIGNATURE


def test_compact_json_third_party_form_still_verifies(signer: Signer) -> None:
    body, headers = signer.callback(compact=True)
    result = verify_callback(body, headers, [signer.cert])
    assert result.form == "compact-json/padded/detached"
    assert result.signed_bytes == json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert result.body_is_signed is False


def test_floats_printed_by_java_19_or_later_verify_as_their_own_form(signer: Signer) -> None:
    body = b'{"subscriptionId":"s","event":"KAI_BATTERY_LEVEL_TRIGGERED","payload":{"v":2e23}}'
    jdk17, jdk21 = samsung.reserialize(body), samsung.reserialize(body, jdk=21)
    assert jdk17 is not None
    assert jdk21 is not None
    assert b"1.9999999999999998E23" in jdk17
    assert b"2.0E23" in jdk21
    assert verify_callback(body, samsung_headers(signer, jdk17), [signer.cert]).form == (
        "samsung-reserialized/padded/detached"
    )
    result = verify_callback(body, samsung_headers(signer, jdk21), [signer.cert])
    assert result.form == "samsung-reserialized-jdk19/padded/detached"
    assert result.signed_bytes == jdk21
    # without such floats the Java 19 form is not even built
    steps: list[Attempt] = []
    with pytest.raises(CallbackVerificationError):
        verify_callback(KG_EXAMPLE, samsung_headers(signer, b"x"), [signer.cert], explain=steps)
    assert any(a.form == "samsung-reserialized-jdk19/*" and "no floats" in a.outcome for a in steps)

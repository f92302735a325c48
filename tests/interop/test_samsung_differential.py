"""Differential test: knoxhook's verifier against Samsung's own sample, over a corpus.

Every callback below goes through Samsung's published verifier (``java/SamsungVerifier``,
one JVM) and through ``verify_callback``. Asserted:

- every callback the sample accepts, knoxhook accepts, and when knoxhook matched Samsung's
  form its ``signed_bytes`` are exactly the bytes the sample verified;
- nothing the sample rejects as a bad signature is accepted by knoxhook;
- the deliberate differences (docs/callbacks.md, "Deliberate differences from Samsung's
  sample") are each asserted explicitly: the sample accepts, knoxhook refuses with the
  documented reason (and accepts with the documented opt-in, where there is one).

The corpus: the emulator's callbacks in every signing mode it has
(``knoxhook.emulator.SIGNING_MODES``), Samsung's two documented example bodies as
printed, bodies with non-ASCII text, escapes, floats, big integers, nulls and many or
colliding top-level keys, each signed as Samsung's sample reads it (its re-serialization)
and as sent (the raw body), a ~2 MB E-FOTA-like bulk result, and forgeries of all of them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knoxhook import emulator
from knoxhook.emulator import signer as emulator_signer
from knoxhook.errors import CallbackVerificationError
from knoxhook.signature import Reason, samsung, verify_callback
from tests.interop.conftest import SamsungSample
from tests.receiver.signing import JOSE_RS256, Signer, b64url
from tests.test_signature_samsung import EFOTA_EXAMPLE, KG_EXAMPLE

NONCE = {"x-knox-nonce": "differential"}


@pytest.fixture(scope="module")
def knox() -> Signer:
    return Signer.create()


@pytest.fixture(scope="module")
def stranger() -> Signer:
    return Signer.create()


def der(signer: Signer) -> bytes:
    return signer.cert.public_bytes(serialization.Encoding.DER)


def jws(signer: Signer, signed: bytes, *, padded: bool = True, part0: str = JOSE_RS256) -> str:
    """An X-WSM-SIGNATURE over ``signed``, detached."""
    data = f"{part0}.{b64url(signed, padded=padded)}".encode()
    sig = signer.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return f"{part0}..{b64url(sig, padded=False)}"


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    signature: str


def documents() -> Iterator[tuple[str, dict[str, object]]]:
    """Callback documents with the contents the issue names."""
    base = {"subscriptionId": "63689d7e4ee2721f7b50d2b1", "event": "KDMS_DEVICE_UPLOAD"}
    yield "plain", {**base, "payload": {"successCount": 1}}
    yield "non-ascii", {**base, "payload": {"name": "Zoë's 日本 📱 café", "rtl": "مرحبا"}}
    yield "escapes", {**base, "payload": {"s": 'q"b\\s/\b\f\n\r\t\u0001\u001f\u007f\u2028'}}
    yield "floats", {**base, "payload": {"f": [1.0, 0.5, -0.0, 1e21, 2e23, 1e-7, 123.456]}}
    yield "big-ints", {**base, "payload": {"n": [2**63, -(2**64), 10**30, 0, -1]}}
    yield "nulls", {**base, "payload": {"serialNumber": None, "deviceId": None, "x": [None]}}
    for n in (13, 40, 100):
        yield f"{n}-keys", {**base, **{f"key{i}": i for i in range(n)}, "payload": {}}
    colliding = {"".join(p): 1 for p in itertools.product(["Aa", "BB"], repeat=5)}
    yield "colliding-keys", {**base, **colliding, **{f"x{i}": i for i in range(40)}}


def emulator_cases(knox: Signer) -> Iterator[Case]:
    """The emulator's callbacks in every signing mode it has (whatever the vocabulary)."""
    sign_document = getattr(emulator_signer, "sign_document", None)
    for (label, document), mode in itertools.product(documents(), emulator.SIGNING_MODES):
        if sign_document is not None:
            signed = sign_document(document, knox.key, mode)
            body, signature = signed.body, signed.signature
        else:  # before the emulator's samsung modes: it sends compact JSON
            body = emulator_signer.encode_body(document)
            signature = emulator_signer.sign(body, knox.key, mode)
        yield Case(f"emulator/{mode}/{label}", body, signature)


def bulk(size: int) -> bytes:
    devices = [
        {"imei": f"35{i:013d}", "serialNumber": None, "deviceId": f"d-{i}"}
        for i in range(size // 80)
    ]
    document = {
        "event": "KE_DEVICE_BULK_CREATE",
        "subscriptionId": "63689d7e4ee2721f7b50d2b1",
        "payload": {"successCount": len(devices), "failureCount": 0, "successfulDevices": devices},
    }
    return json.dumps(document, indent=4).encode()


def corpus_cases(knox: Signer) -> Iterator[Case]:
    """Bodies as sent in document order (pretty), signed the two ways a signer might."""
    bodies = [("kg-example", KG_EXAMPLE), ("efota-example", EFOTA_EXAMPLE)]
    for label, document in documents():
        bodies.append((label, json.dumps(document, indent=2, ensure_ascii=False).encode()))
        bodies.append((f"{label}/ascii", json.dumps(document).encode()))
    bodies.append(("efota-bulk-2MB", bulk(2_000_000)))
    for label, body in bodies:
        reserialized = samsung.reserialize(body)
        assert reserialized is not None, label
        yield Case(f"{label}/samsung-signed", body, jws(knox, reserialized))
        yield Case(f"{label}/samsung-signed-unpadded", body, jws(knox, reserialized, padded=False))
        yield Case(f"{label}/raw-signed", body, jws(knox, body))
        yield Case(f"{label}/samsung-string-sent", reserialized, jws(knox, reserialized))


def forgeries(cases: list[Case], knox: Signer, stranger: Signer) -> Iterator[Case]:
    """Tampered bodies, other keys, made-up signatures: the sample rejects all of them."""
    for case in cases:
        if len(case.body) > 100_000:
            tampered = case.body.replace(b'"d-1"', b'"d-X"', 1)
        else:
            tampered = case.body.replace(b"KDMS_DEVICE_UPLOAD", b"KDMS_DEVICE_DELETE", 1)
            tampered = tampered.replace(b"Enrolled", b"Locked").replace(b'"1', b'"2', 1)
        if tampered != case.body:
            yield Case(f"{case.name}/tampered", tampered, case.signature)
        part0, part1, part2 = case.signature.split(".")
        flipped = part2[:10] + ("A" if part2[10] != "A" else "B") + part2[11:]
        yield Case(f"{case.name}/flipped-signature", case.body, f"{part0}.{part1}.{flipped}")
    signed = samsung.reserialize(KG_EXAMPLE)
    assert signed is not None
    yield Case("stranger-key/samsung", KG_EXAMPLE, jws(stranger, signed))
    yield Case("stranger-key/raw", KG_EXAMPLE, jws(stranger, KG_EXAMPLE))


def knoxhook_verdict(case: Case, cert: object, **kw: object) -> tuple[str, object]:
    headers = {"X-WSM-SIGNATURE": case.signature, **NONCE}
    try:
        result = verify_callback(case.body, headers, [cert], **kw)  # type: ignore[arg-type, list-item]
    except CallbackVerificationError as exc:
        return "refused", exc.reason
    return "accepted", result


def test_every_callback_samsungs_sample_accepts_knoxhook_accepts(
    samsung_sample: SamsungSample, knox: Signer, stranger: Signer
) -> None:
    genuine = [*emulator_cases(knox), *corpus_cases(knox)]
    sample_must_accept = ("/samsung-signed", "/samsung-string-sent")
    accepted_by_sample = 0
    for case in genuine:
        java = samsung_sample.run(case.body, case.signature, der(knox))
        outcome, detail = knoxhook_verdict(case, knox.cert)
        # every genuine callback verifies in knoxhook (the sample accepts a subset)
        assert outcome == "accepted", f"{case.name}: sample {java.verdict}, knoxhook {detail}"
        if java.verdict == "accept":
            accepted_by_sample += 1
            if detail.form.startswith("samsung-reserialized/"):  # type: ignore[attr-defined]
                assert detail.signed_bytes == java.reserialized, case.name  # type: ignore[attr-defined]
        else:  # a third-party reading (raw body, unpadded...): only knoxhook accepts it
            assert java.verdict == "reject", (case.name, java)
        if case.name.endswith(sample_must_accept) or case.name.startswith(
            ("emulator/samsung/", "emulator/samsung-reserialized/")
        ):
            assert java.verdict == "accept", case.name
    assert accepted_by_sample >= len(genuine) // 3

    forged = list(forgeries(genuine, knox, stranger))
    assert len(forged) > len(genuine)
    for case in forged:
        java = samsung_sample.run(case.body, case.signature, der(knox))
        assert java.verdict in {"reject", "error"}, case.name
        outcome, detail = knoxhook_verdict(case, knox.cert)
        assert outcome == "refused", f"{case.name}: forged, but knoxhook accepted {detail}"


# --- the deliberate differences, each asserted ----------------------------------------------


def test_difference_expired_certificate_refused_unless_allowed(
    samsung_sample: SamsungSample,
) -> None:
    past = datetime.now(UTC) - timedelta(days=10)
    old = Signer.create(not_before=past - timedelta(days=365), not_after=past)
    signed = samsung.reserialize(KG_EXAMPLE)
    assert signed is not None
    case = Case("expired", KG_EXAMPLE, jws(old, signed))
    assert samsung_sample.run(case.body, case.signature, der(old)).verdict == "accept"
    assert knoxhook_verdict(case, old.cert) == ("refused", Reason.CERTIFICATE_EXPIRED)
    outcome, _ = knoxhook_verdict(case, old.cert, allow_expired=True)
    assert outcome == "accepted"


def test_difference_bytes_after_the_json_value_are_refused(
    samsung_sample: SamsungSample, knox: Signer
) -> None:
    signed = samsung.reserialize(KG_EXAMPLE)
    assert signed is not None
    for tail in (b" trailing", b"}", b'{"event":"KG_DEVICE_UNLOCKED"}'):
        case = Case("trailing", KG_EXAMPLE + tail, jws(knox, signed))
        assert samsung_sample.run(case.body, case.signature, der(knox)).verdict == "accept"
        assert knoxhook_verdict(case, knox.cert) == ("refused", Reason.BODY_NOT_JSON)


def test_difference_repeated_names_are_refused(samsung_sample: SamsungSample, knox: Signer) -> None:
    # a repeated "event" placed first: Jackson keeps the last value, another parser the first
    genuine = b'{"event":"KG_DEVICE_LOCKED","subscriptionId":"s","payload":{}}'
    attack = b'{"event":"KG_DEVICE_UNLOCKED","subscriptionId":"s",' + genuine[1:]
    nested = b'{"event":"KG_DEVICE_LOCKED","subscriptionId":"s","payload":{"a":1,"a":{}}}'
    for signed_body, sent in ((genuine, attack), (nested, nested)):
        signed = samsung.reserialize(signed_body)
        assert signed is not None
        case = Case("repeated", sent, jws(knox, signed))
        assert samsung_sample.run(case.body, case.signature, der(knox)).verdict == "accept"
        assert knoxhook_verdict(case, knox.cert) == ("refused", Reason.DUPLICATE_KEY)


def test_difference_a_jose_header_that_is_not_json_is_refused(
    samsung_sample: SamsungSample, knox: Signer
) -> None:
    signed = samsung.reserialize(KG_EXAMPLE)
    assert signed is not None
    case = Case("part0", KG_EXAMPLE, jws(knox, signed, part0="bm90LWpzb24"))  # "not-json"
    assert samsung_sample.run(case.body, case.signature, der(knox)).verdict == "accept"
    assert knoxhook_verdict(case, knox.cert) == ("refused", Reason.MALFORMED_SIGNATURE_HEADER)


def test_difference_bodies_that_are_not_utf8_json_objects_are_refused(
    samsung_sample: SamsungSample, knox: Signer
) -> None:
    for body, reason in (
        (b"null", Reason.BODY_NOT_OBJECT),  # Jackson signs the string "null"
        (b'{"subscriptionId":"s","event":"E","p":"\xc0\x80"}', Reason.BAD_SIGNATURE),
    ):
        java = samsung_sample.run(body, None)
        assert java.reserialized is not None
        case = Case("not-utf8-object", body, jws(knox, java.reserialized))
        assert samsung_sample.run(case.body, case.signature, der(knox)).verdict == "accept"
        assert knoxhook_verdict(case, knox.cert) == ("refused", reason)


def test_difference_a_body_without_subscription_id_and_event_is_refused(
    samsung_sample: SamsungSample, knox: Signer
) -> None:
    body = b'{"payload":{}}'
    case = Case("not-a-callback", body, jws(knox, body))
    assert samsung_sample.run(case.body, case.signature, der(knox)).verdict == "accept"
    assert knoxhook_verdict(case, knox.cert) == ("refused", Reason.MISSING_FIELD)


def test_no_difference_alg_and_part1_are_ignored_by_both(
    samsung_sample: SamsungSample, knox: Signer
) -> None:
    signed = samsung.reserialize(EFOTA_EXAMPLE)
    assert signed is not None
    none = b64url(b'{"alg":"none"}', padded=False)
    part0, _, part2 = jws(knox, signed, part0=none).split(".")
    case = Case("alg-none-part1-garbage", EFOTA_EXAMPLE, f"{part0}.Z2FyYmFnZQ.{part2}")
    assert samsung_sample.run(case.body, case.signature, der(knox)).verdict == "accept"
    outcome, result = knoxhook_verdict(case, knox.cert)
    assert outcome == "accepted"
    assert result.form == "samsung-reserialized/padded/attached"  # type: ignore[attr-defined]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(extra=st.dictionaries(st.text(max_size=8), json_values, max_size=20))
def test_random_callbacks_signed_as_samsung_reads_them_verify_in_both(
    samsung_sample: SamsungSample, knox: Signer, extra: dict[str, object]
) -> None:
    document = {**extra, "subscriptionId": "s", "event": "KG_DEVICE_LOCKED"}
    body = json.dumps(document, indent=2).encode()
    signed = samsung.reserialize(body)
    assert signed is not None
    case = Case("random", body, jws(knox, signed))
    java = samsung_sample.run(case.body, case.signature, der(knox))
    assert java.verdict == "accept"
    outcome, result = knoxhook_verdict(case, knox.cert)
    assert outcome == "accepted", result
    assert result.signed_bytes == java.reserialized  # type: ignore[attr-defined]

"""knoxhook's ``samsung.serialize``/``reserialize`` against Jackson in a real JVM.

Every case runs through Samsung's sample (``conftest.samsung_sample``, one JVM) and asserts
that the bytes it would sign are byte for byte what ``knoxhook.signature.samsung`` builds.
"""

from __future__ import annotations

import itertools
import json
import random
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knoxhook.signature import samsung
from tests.interop.conftest import SamsungSample


def same(sample: SamsungSample, body: bytes) -> None:
    expected = sample.run(body)
    assert samsung.reserialize(body, jdk=expected.java) == expected.reserialized, body[:200]


def test_many_top_level_keys_follow_hashmap_order_through_resizes(
    samsung_sample: SamsungSample,
) -> None:
    # 13 keys resize the table to 32, 25 to 64, 49 to 128, 100 to 256
    for n in (3, 12, 13, 25, 40, 49, 100, 300):
        names = [f"k{i}" * (i % 3 + 1) for i in range(n)]
        document = {name: i for i, name in enumerate(names)}
        for body in (
            json.dumps(document).encode(),
            json.dumps(dict(reversed(document.items()))).encode(),
        ):
            same(samsung_sample, body)
        # serialize() of the mapping is the same string whatever order the keys come in
        assert samsung.serialize(document) == samsung_sample.reserialize(
            json.dumps(document).encode()
        )


def test_colliding_keys_treeify_and_split_like_java(samsung_sample: SamsungSample) -> None:
    # "Aa" and "BB" have the same String.hashCode, so these 64 keys share one hash:
    # chains of 9+ become red-black trees once the table has 64 buckets
    colliding = ["".join(p) for p in itertools.product(["Aa", "BB"], repeat=6)]
    fillers = [f"x{i}" for i in range(60)]
    for names in (
        colliding,
        colliding[:20] + fillers + colliding[20:],
        fillers + colliding,
        colliding[::-1] + fillers[:10],
        random.Random(7).sample(colliding + fillers, 124),
    ):
        same(samsung_sample, json.dumps({name: 1 for name in names}).encode())


def check_numbers(samsung_sample: SamsungSample) -> None:
    numbers = [
        "1.0", "1e21", "1E2", "-0.0", "-0", "0", "1e-5", "0.001", "2e-3", "2e23", "1e23",
        "9007199254740993", "123456789012345678901234567890", "-123456789012345678901234567890",
        "1.7976931348623157e308", "5e-324", "2.2250738585072014E-308", "1e400", "-1e400",
        "1e-400", "9223372036854775807", "9223372036854775808", "1e7", "1e8", "12345678.9",
        "0.1", "100.0", "3.141592653589793", "9.223372036854776E18", "1.0E-3",
    ]  # fmt: skip
    body = (
        '{"n":['
        + ",".join(numbers)
        + "],"
        + ",".join(f'"k{i}":{n}' for i, n in enumerate(numbers))
        + "}"
    ).encode()
    same(samsung_sample, body)
    rng = random.Random(3)
    doubles = [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0] for _ in range(3000)]
    finite = [repr(d) for d in doubles if d == d and abs(d) != float("inf")]
    same(samsung_sample, ('{"d":[' + ",".join(finite) + "]}").encode())


def test_numbers_print_as_jackson_and_jdk17_print_them(samsung_sample: SamsungSample) -> None:
    assert samsung_sample.jdk == 17  # Debian's default JDK: what CI and the issue measured
    check_numbers(samsung_sample)


def test_numbers_print_as_java_19_and_later_print_them(
    samsung_sample_jdk19: SamsungSample,
) -> None:
    assert samsung_sample_jdk19.jdk >= 19
    check_numbers(samsung_sample_jdk19)
    # the value that tells them apart
    assert samsung_sample_jdk19.reserialize(b'{"f":2e23}') == b'{"f":2.0E23}'


def test_strings_escape_as_jackson_does(samsung_sample: SamsungSample) -> None:
    every_control = "".join(chr(c) for c in range(0x20))
    for text in (
        every_control, '"\\/', "\u007f\u0080\u00ff", "\u2028\u2029", "é日本語😀", "\ud800",
        "\udfff x", "\ud83d\ude00", "</script>", "",
    ):  # fmt: skip
        same(samsung_sample, json.dumps({"s": text, text: [text, {text: text}]}).encode())
        if not any(0xD800 <= ord(c) <= 0xDFFF for c in text):  # raw UTF-8, not escapes
            same(samsung_sample, json.dumps({"s": text}, ensure_ascii=False).encode())


def test_parsing_edges_match_jackson(samsung_sample: SamsungSample) -> None:
    for body in (
        b'{"a":1,"a":2}',  # a repeated name: first position, last value
        b'{"b":{"x":1,"y":2,"x":3},"a":[{"k":1,"k":null}]}',
        b'  \r\n\t{"a" : [ 1 , 2 ] }\n',
        b'\xef\xbb\xbf{"a":1}',
        b'{"a":1} trailing bytes',  # ignored by Jackson
        b'{"a":1}{"b":2}',
        b'{"subscriptionId":null,"event":true,"payload":false}',
        b"{}",
        b'{"deep":' + b"[" * 200 + b"]" * 200 + b"}",
    ):
        same(samsung_sample, body)


def test_bodies_jackson_refuses_reserialize_to_none(samsung_sample: SamsungSample) -> None:
    for body in (
        b"", b"   ", b"[1]", b'"s"', b"1", b"{", b'{"a":NaN}', b'{"a":Infinity}',
        b'{"a":-Infinity}', b'{"a":01}', b'{"a":1.}', b'{"a":.5}', b"{'a':1}", b'{"a":1,}',
        b'{"a":"\x01"}', b"{a:1}",
        b'{"a":+1}', b'{"a":1 /* c */}',
    ):  # fmt: skip
        verdict = samsung_sample.run(body)
        assert verdict.reserialized is None, body
        assert samsung.reserialize(body) is None, body


def test_deliberate_differences_from_jackson_are_refusals(samsung_sample: SamsungSample) -> None:
    """Where Jackson signs something knoxhook refuses to build: each one on purpose."""
    for body, jackson in (
        (b"null", b"null"),  # not an object: no callback
        (b'{"a":"\xc0\x80"}', b'{"a":"\\u0000"}'),  # invalid (overlong) UTF-8
        (b'{"a":"\xed\xa0\x80"}', b'{"a":"?"}'),  # UTF-8-encoded surrogate
        (b'{"a":"\xed\xa0\xbd\xed\xb8\x80"}', b'{"a":"\xf0\x9f\x98\x80"}'),  # CESU-8 pair
    ):
        assert samsung_sample.reserialize(body) == jackson
        assert samsung.reserialize(body) is None


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
documents = st.dictionaries(st.text(max_size=10), json_values, max_size=30)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=documents, indent=st.sampled_from([None, 2]), ascii_only=st.booleans())
def test_random_documents_reserialize_like_jackson(
    samsung_sample: SamsungSample, document: dict[str, object], indent: int | None, ascii_only: bool
) -> None:
    body = json.dumps(document, indent=indent, ensure_ascii=ascii_only)
    raw = body.encode("utf-8", "surrogatepass") if not ascii_only else body.encode()
    if not ascii_only and any("\ud800" <= c <= "\udfff" for c in body):
        raw = json.dumps(document, indent=indent).encode()  # lone surrogates only as escapes
    expected = samsung_sample.reserialize(raw)
    assert expected is not None
    assert samsung.reserialize(raw) == expected
    assert samsung.serialize(document) == expected
    modern = samsung.reserialize(raw, jdk=21)
    if modern != expected:  # only floats print differently, and only a few of them
        assert samsung.parse(raw).has_float  # type: ignore[union-attr]

"""The verifier's body parse and its fast paths against the straightforward code, on random
bodies: ``bodyparse.parse`` against ``reference_parse`` (the parse as it was written before
the speed work), and ``samsung``'s C-encoder shortcut for bodies without a backslash
against the Python writer (``samsung._write``)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knoxhook.signature import bodyparse, samsung
from knoxhook.signature.bodyparse import Parsed


def reference_parse(body: bytes) -> Parsed | None:
    """The straightforward parse: the strict scan always (the code before the fast path)."""
    local = bodyparse._local
    local.has_float = False
    try:
        text = body.decode("utf-8")
        if text.startswith("\ufeff"):
            text = text[1:]
        start = len(text) - len(text.lstrip(" \t\n\r"))
        duplicate = False
        try:
            document, end = bodyparse._STRICT_SCAN(text, start)
        except bodyparse._Repeated:
            duplicate = True
            document, end = bodyparse._LAST_WINS_SCAN(text, start)
    except (ValueError, RecursionError, StopIteration):
        return None
    trailing = end != len(text) and bool(text[end:].strip(" \t\n\r"))
    return Parsed(document, duplicate, trailing, local.has_float, "\\" in text)


# JSON texts built token by token, so that names repeat (also through escapes: "\u0061" is
# "a"), strings hold colons (raw and escaped), and whitespace, floats, NaN, trailing bytes
# and a BOM appear.
_names = st.sampled_from(['"a"', '"b"', '"\\u0061"', '":"', '"a:b"', '"\\u003a"', '""'])
_ws = st.sampled_from(["", " ", "\n  ", "\t"])
_scalars = st.sampled_from(
    ["1", "-0", "1.5", "1e400", "2E-3", "true", "null", '"x"', '"12:30"', '"\\u003a"',
     '"\\\\u"', '"\\u0007"', '"\\/"', '"\u2028"', "NaN", '"é"']
)  # fmt: skip


def _array(items: list[str], ws: str) -> str:
    return "[" + f",{ws}".join(items) + "]"


def _object(members: list[tuple[str, str]], ws: str) -> str:
    return "{" + ",".join(f"{ws}{k}{ws}:{ws}{v}" for k, v in members) + ws + "}"


_values = st.recursive(
    _scalars,
    lambda inner: (
        st.builds(_array, st.lists(inner, max_size=4), _ws)
        | st.builds(_object, st.lists(st.tuples(_names, inner), max_size=5), _ws)
    ),
    max_leaves=16,
)
_bodies = st.builds(
    lambda bom, lead, value, tail: (bom + lead + value + tail).encode(),
    st.sampled_from(["", "\ufeff"]),
    _ws,
    _values,
    st.sampled_from(["", "\n", " x", ' {"a":1}', ":"]),
)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_bodies)
def test_parse_agrees_with_the_strict_scan_on_random_bodies(body: bytes) -> None:
    expected = reference_parse(body)
    got = bodyparse.parse(body)
    assert got == expected
    if got is None:
        return
    assert _types(got.document) == _types(expected.document)  # type: ignore[union-attr]
    if type(got.document) is dict and not got.has_float:  # the C-encoder shortcut applies
        assert samsung.reserialize_parsed(got) == _written(got.document)


def _written(document: dict[str, Any]) -> bytes:
    """Jackson's bytes by the straightforward Python writer (no C encoder, no shortcut)."""
    out: list[str] = []
    samsung._write({k: document[k] for k in samsung.order(tuple(document))}, out)
    return "".join(out).encode("utf-8", "replace")


def _types(value: Any) -> Any:
    if type(value) is dict:
        return {k: _types(v) for k, v in value.items()}
    if type(value) is list:
        return [_types(v) for v in value]
    return type(value), value


def test_known_cases() -> None:
    cases = {
        b'{"a":1,"a":2}': (True, {"a": 2}),
        b'{"a":{"b":1,"\\u0062":2}}': (True, {"a": {"b": 2}}),
        b'[{"a":1},{"a":1}]': (False, [{"a": 1}, {"a": 1}]),
        b'{"t":"12:30","a":1,"a":":"}': (True, {"t": "12:30", "a": ":"}),
        b'{"t":"12:30"}': (False, {"t": "12:30"}),
        b'{"a":[{"b":{"c":1,"c":1}}]}': (True, {"a": [{"b": {"c": 1}}]}),
    }
    for body, (duplicate, document) in cases.items():
        parsed = bodyparse.parse(body)
        assert parsed is not None
        assert (parsed.duplicate_name, parsed.document) == (duplicate, document), body


_documents = st.dictionaries(
    st.text(max_size=6),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
        max_leaves=10,
    ),
    max_size=12,
)


@settings(max_examples=500, deadline=None)
@given(document=_documents, indent=st.sampled_from([None, 1]), ascii_only=st.booleans())
def test_the_c_encoder_shortcut_prints_what_the_python_writer_prints(
    document: dict[str, Any], indent: int | None, ascii_only: bool
) -> None:
    body = json.dumps(document, indent=indent, ensure_ascii=ascii_only).encode(
        "utf-8", "surrogatepass"
    )
    parsed = bodyparse.parse(body)
    if parsed is None:  # a lone surrogate written raw is not UTF-8
        return
    assert samsung.reserialize_parsed(parsed) == _written(parsed.document)


def _reference_reserialized(body: bytes) -> tuple[Parsed | None, bytes | None]:
    """The parse with its hook, then the Samsung form of it: what the fast path replaces."""
    parsed = reference_parse(body)
    return parsed, None if parsed is None else samsung.reserialize_parsed(parsed)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_bodies)
def test_counting_colons_finds_what_the_hook_finds_on_random_bodies(body: bytes) -> None:
    # repeated names (also through "\u0061"), colons in names and values ("a:b", "\u003a"),
    # floats, whitespace, trailing bytes, a BOM: the same Parsed and the same Samsung bytes
    assert samsung.parse_reserialized(body) == _reference_reserialized(body)


def test_counting_colons_known_cases() -> None:
    cases = {
        b'{"a":"x:y","a":"z"}': True,  # the dropped value held a colon
        b'{"a:":1,"a:":2}': True,  # so did the repeated name
        b'{"t":"12:30","n":{"b":1,"b":2}}': True,  # nested
        b'{"a":"\\u003a","a":"::"}': True,  # "\u003a" decodes to ":": the hook decides
        b'{"a":"\\u003a","b":":"}': False,
        b'{"a" : "12:30" ,\n "b":[{"c":":"}]}': False,
        b'{"a":1} {"a":1,"a":2}': False,  # trailing bytes are not counted
    }
    for body, duplicate in cases.items():
        parsed, signed = samsung.parse_reserialized(body)
        assert parsed is not None, body
        assert parsed.duplicate_name is duplicate, body
        assert (parsed, signed) == _reference_reserialized(body), body


@settings(max_examples=200, deadline=None)
@given(
    document=st.dictionaries(
        st.text(max_size=6),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
            max_leaves=10,
        ),
        max_size=12,
    ),
    indent=st.sampled_from([None, 1]),
    ascii_only=st.booleans(),
)
def test_the_fast_path_gives_the_bytes_of_the_full_reserialization(
    document: dict[str, Any], indent: int | None, ascii_only: bool
) -> None:
    # compact and pretty bodies, strings Python escapes otherwise than Jackson ("\u00e9",
    # "\u001f"), floats as Python prints them, NaN (refused by both), nested objects
    body = json.dumps(document, indent=indent, ensure_ascii=ascii_only).encode(
        "utf-8", "surrogatepass"
    )
    assert samsung.parse_reserialized(body) == _reference_reserialized(body)


def test_the_fast_path_on_numbers_jackson_prints_otherwise() -> None:
    body = b'{"a": 1e2, "b": 1.50, "c": -0, "d": 12345678901234567890123, "e": {"f": 1E-7}}'
    parsed, signed = samsung.parse_reserialized(body)
    assert signed == b'{"a":100.0,"b":1.5,"c":0,"d":12345678901234567890123,"e":{"f":1.0E-7}}'
    assert (parsed, signed) == _reference_reserialized(body)


# orjson's hot path (no float, no "\" in the text) against the Python writer: strings with
# every character orjson or Python escapes otherwise than Jackson (control characters,
# '"', "\", "/", U+2028/2029, DEL, non-ASCII, lone surrogates), integers around and past
# 64 bits, floats; bodies compact, pretty, ASCII-escaped or raw.
_tricky = st.sampled_from(
    ["\x00", "\x0b", "\x1f", "\x7f", "\t", '"', "\\", "/", "\u2028", "\u2029", "é", "\U0001f600",
     "\ud800", "\udfff", ":"]
)  # fmt: skip
_strings = st.text(max_size=6) | st.lists(_tricky | st.characters(), max_size=4).map("".join)
_ints = st.integers() | st.sampled_from(
    [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30, -(10**30)]
)
_any_documents = st.dictionaries(
    _strings,
    st.recursive(
        st.none() | st.booleans() | _ints | st.floats(allow_nan=False) | _strings,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_strings, inner),
        max_leaves=12,
    ),
    max_size=10,
)


def _check_against_the_writer(body: bytes) -> None:
    expected = reference_parse(body)
    parsed, signed = samsung.parse_reserialized(body)
    assert parsed == expected
    if expected is None or type(expected.document) is not dict:
        assert signed is None
    else:
        assert signed == _written(expected.document)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_any_documents, indent=st.sampled_from([None, 2]), ascii_only=st.booleans())
def test_the_orjson_hot_path_prints_what_the_python_writer_prints(
    document: dict[str, Any], indent: int | None, ascii_only: bool
) -> None:
    body = json.dumps(document, indent=indent, ensure_ascii=ascii_only).encode(
        "utf-8", "surrogatepass"
    )
    _check_against_the_writer(body)


def test_the_orjson_hot_path_known_cases(monkeypatch: Any) -> None:
    calls: list[object] = []
    real = samsung._ORJSON_DUMPS

    def spy(document: object) -> bytes:
        calls.append(document)
        return real(document)

    monkeypatch.setattr(samsung, "_ORJSON_DUMPS", spy)
    hot = {
        b'{"b":"/\xe2\x80\xa8\xe2\x80\xa9\x7f\xc3\xa9","a":[1,{"z":null,"y":true}]}': True,
        b'{"max":18446744073709551615,"min":-9223372036854775808}': True,
        b'{"big":18446744073709551616}': True,  # orjson raises: the C encoder prints it
        b'{"small":-9223372036854775809}': True,
        b'{"a":[' + b"[" * 300 + b"]" * 300 + b"]}": True,  # past orjson's 255 levels
        b'{"a":{' + b'"a":{' * 254 + b"}" * 254 + b"}}": True,
        b'{"esc":"\\u001f\\u000b\\"\\\\\\/\\ud800"}': False,  # a "\": the C encoder's case
        b'{"f":1.0E21,"g":2e23}': False,  # floats: javadouble
    }
    for body, orjson_tried in hot.items():
        calls.clear()
        _check_against_the_writer(body)
        assert bool(calls) is orjson_tried, body
    big = b'{"big":18446744073709551616,"s":"\xc3\xa9"}'
    assert samsung.parse_reserialized(big)[1] == big  # the fallback, not an error
    repeated, signed = samsung.parse_reserialized(b'{"a":1,"b":{"c":"x:y","c":2}}')
    assert repeated is not None
    assert repeated.duplicate_name  # the colon count still finds it
    assert signed == b'{"a":1,"b":{"c":2}}'

"""The bytes Samsung's sample verifier signs: Jackson's re-serialization of a ``HashMap``.

Samsung's only published callback verifier (knox-api.md §5; the "Verify the response"
section of the Knox Guard and E-FOTA KWN tutorials) does not verify the body as received::

    Map jsonBody = objectMapper.readValue(bodyBytes, HashMap.class);
    String requestBody = objectMapper.writeValueAsString(jsonBody);
    data = part0 + "." + Base64.getUrlEncoder().encodeToString(requestBody.getBytes(UTF_8))

``serialize`` prints exactly what ``writeValueAsString`` prints for such a map (checked
against the real JVM and Jackson in ``tests/interop``):

- compact, no whitespace;
- the TOP-LEVEL keys in ``java.util.HashMap`` iteration order (``javahashmap.order``);
  nested objects in document order (Jackson builds them as ``LinkedHashMap``); arrays as
  they are;
- integers of any size as they are; a JSON ``-0`` is the integer ``0``; floats as JDK 17's
  ``Double.toString`` of the double Jackson parsed (``1.0``, ``1.0E21``, ``-0.0``,
  ``1.9999999999999998E23`` for ``2e23``: ``javadouble``); a float too large for a double
  becomes the STRING ``"Infinity"`` (Jackson quotes non-finite numbers);
- strings with ``"`` and ``\\`` escaped, ``\\b \\t \\n \\f \\r`` as short escapes, other
  characters below U+0020 as ``\\u00XX`` (upper-case hex), and nothing else escaped (not
  ``/``, not U+2028, not non-ASCII); a lone surrogate becomes ``?`` in the UTF-8 bytes
  (``String.getBytes(UTF_8)`` replaces it);
- a repeated name keeps its first position and its last value (``Map.put``).

``reserialize`` applies it to a received body, parsing it as Jackson does (a UTF-8 BOM and
surrounding whitespace are skipped, bytes after the first JSON value are ignored), or
returns None where Jackson refuses the body (not JSON, ``NaN``/``Infinity``, leading zeros,
...) and where this module does not follow Jackson (documented deliberate differences, all
refusals: invalid UTF-8, which Jackson partly decodes; UTF-16/32 bodies; a top level that
is not an object, including ``null``, which Jackson maps to the string ``null``; integers
of more than 4300 digits; nesting deeper than Python's recursion limit).

``parse`` (``bodyparse``) is the single JSON parse the verifier makes of a body: it also
reports repeated names at any depth and bytes after the value, which the verifier refuses.
"""

from __future__ import annotations

import json
import json.encoder
import math
import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

# re-exported: the verifier and the forms call samsung.parse
from knoxhook.signature.bodyparse import Parsed as Parsed
from knoxhook.signature.bodyparse import parse as parse
from knoxhook.signature.bodyparse import parse_unchecked
from knoxhook.signature.javadouble import double_to_string, double_to_string_jdk
from knoxhook.signature.javahashmap import order

JDK: Final = 17  # the Java whose Double.toString serialize follows unless told otherwise
_SHORT: Final = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_NEEDS_ESCAPE: Final = re.compile(r'[\x00-\x1f"\\]')


def _escape_char(match: re.Match[str]) -> str:
    c = match.group()
    if c in _SHORT:
        return _SHORT[c]
    if c == '"' or c == "\\":
        return "\\" + c
    return f"\\u{ord(c):04X}"


def _string(text: str) -> str:
    if _NEEDS_ESCAPE.search(text) is None:
        return f'"{text}"'
    return f'"{_NEEDS_ESCAPE.sub(_escape_char, text)}"'


def _float(value: float, jdk: int) -> str:
    if math.isfinite(value):
        return double_to_string(value) if jdk == JDK else double_to_string_jdk(value, jdk)
    if math.isnan(value):  # never parsed from JSON; Jackson would quote it too
        return '"NaN"'
    return '"Infinity"' if value > 0 else '"-Infinity"'


def _write(value: Any, out: list[str], jdk: int = JDK) -> None:
    """Append Jackson's output for a nested value (objects keep their order)."""
    kind = type(value)  # exact types first: what json.loads builds, the hot cases
    if kind is str:
        out.append(_string(value))
    elif kind is dict:
        out.append("{")
        first = True
        for key, item in value.items():
            if first:
                first = False
            else:
                out.append(",")
            out.append(_string(key) if type(key) is str else _string(str(key)))
            out.append(":")
            _write(item, out, jdk)
        out.append("}")
    elif kind is int:
        out.append(int.__repr__(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is float:
        out.append(_float(value, jdk))
    elif kind is list:
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, jdk)
        out.append("]")
    else:
        _write(_plain(value), out, jdk)


def _plain(value: Any) -> Any:
    """A subclass or other container as the plain JSON type it stands for."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list | tuple):
        return list(value)
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _not_json(value: Any) -> Any:
    raise TypeError(f"not a JSON value: {type(value).__name__}")


# Python's C encoder, compact, no NaN, no circular-reference bookkeeping: stateless, so one
# instance serves every call. For documents WITHOUT floats it prints exactly what Jackson
# prints, except that it escapes control characters as lower-case "\\u00xx": output with
# any "\\u" goes through ``_write`` instead.
_C_ENCODE: Final = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _not_json, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
    if json.encoder.c_make_encoder is not None  # type: ignore[attr-defined]
    else None
)


# orjson, for ``parse_reserialized``'s hot case only (a text without "\" and without
# floats): compact, non-ASCII raw, UTF-8 bytes out, and for such documents byte for byte
# what Jackson prints, for less than half the C encoder's time (benchmarks/README.md).
# Elsewhere it differs: control characters as lower-case "\u00xx", lone surrogates
# refused, floats as Python's repr; it raises TypeError (orjson.JSONEncodeError) on
# integers beyond 64 bits and nesting past 255 levels, which then take the C encoder.
_ORJSON_DUMPS: Final = orjson.dumps


def _serialize(
    document: dict[str, Any], c_encoder: bool, jdk: int = JDK, escapes: bool = True
) -> bytes:
    """``document`` (str keys) in HashMap order, as Jackson prints it, in UTF-8.

    ``escapes=False``: the JSON text it was parsed from held no "\\", so no string holds a
    control character or a backslash (raw ones are not JSON), and the C encoder's output
    cannot hold a "\\u" (a search that costs ~0.3 us on a callback).
    """
    ordered = {k: document[k] for k in order(tuple(document))}
    if c_encoder and _C_ENCODE is not None:
        chunks = _C_ENCODE(ordered, 0)
        text = chunks[0] if len(chunks) == 1 else "".join(chunks)
        if not escapes or "\\u" not in text:
            # "replace": a lone surrogate becomes "?", as Java's String.getBytes(UTF_8) does
            return text.encode("utf-8", "replace")
    out: list[str] = []
    _write(ordered, out, jdk)
    return "".join(out).encode("utf-8", "replace")


def serialize(document: Mapping[str, Any], *, jdk: int = JDK) -> bytes:
    """What Jackson's ``writeValueAsString`` prints for a ``HashMap`` of ``document``.

    ``document``'s keys are put into the map in its iteration order; nested mappings keep
    their order. Values are JSON values (str, int, float, bool, None, lists, mappings).
    ``jdk``: the Java version whose ``Double.toString`` prints the floats (17 by default;
    from 19 on it prints the shortest decimal, ``javadouble``).
    """
    plain = {str(k): v for k, v in document.items()}
    return _serialize(plain, c_encoder=False, jdk=jdk)


def reserialize_parsed(parsed: Parsed, *, jdk: int = JDK) -> bytes | None:
    """``reserialize`` of an already parsed body."""
    if type(parsed.document) is not dict:
        return None
    try:
        document, has_float, escapes = parsed.document, parsed.has_float, parsed.has_escape
        return _serialize(document, c_encoder=not has_float, jdk=jdk, escapes=escapes)
    except RecursionError:
        return None


def parse_reserialized(body: bytes) -> tuple[Parsed | None, bytes | None]:
    """``parse(body)`` and ``reserialize_parsed`` of it, for ~1 us less than the two apart.

    The parse's repeated-name hook is skipped (``parse_unchecked``) and repeated names are
    found by counting ":" instead. Outside strings a JSON text has exactly one ":" per
    member, and so has Jackson's output; inside strings both hold the same colons, provided
    the text has no "\\u" escape (the only escape that can decode to ":", "\\u003a"), and
    UTF-8 never encodes anything else as a ":" byte. So the counts over the value's text
    and over the re-serialization are equal when no object repeats a name, and the
    re-serialization has fewer when one does (a repeated member is written once). Equal
    counts clear the body; anything else ("\\u" in the text, unequal counts, not an object)
    falls back to ``parse``, which decides exactly. tests/test_signature_bodyparse.py checks
    both against the hook on random bodies.
    """
    quick = parse_unchecked(body)
    if quick is not None and quick[1] >= 0 and type(quick[0].document) is dict:
        parsed, colons = quick
        if parsed.has_float or parsed.has_escape:
            signed = reserialize_parsed(parsed)
        else:  # the hot case: no float, no "\" in the text
            document = parsed.document
            try:
                signed = _ORJSON_DUMPS({k: document[k] for k in order(tuple(document))})
            except TypeError:  # orjson.JSONEncodeError: an int past 64 bits, >255 levels
                signed = reserialize_parsed(parsed)
        if signed is not None and signed.count(b":") == colons:
            return parsed, signed
    strict = parse(body)
    return strict, None if strict is None else reserialize_parsed(strict)


def reserialize(body: bytes, *, jdk: int = JDK) -> bytes | None:
    """The bytes Samsung's sample signs for ``body``; None when it would refuse the body.

    Bytes after the first JSON value are ignored, as Jackson ignores them (the verifier
    refuses such bodies separately). ``jdk`` as in ``serialize``.
    """
    parsed = parse(body)
    return None if parsed is None else reserialize_parsed(parsed, jdk=jdk)

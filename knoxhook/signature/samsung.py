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

``parse`` is the single JSON parse the verifier makes of a body: it also reports repeated
names at any depth and bytes after the value, which the verifier refuses.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from knoxhook.signature.javadouble import double_to_string
from knoxhook.signature.javahashmap import order

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


def _float(value: float) -> str:
    if math.isfinite(value):
        return double_to_string(value)
    if math.isnan(value):  # never parsed from JSON; Jackson would quote it too
        return '"NaN"'
    return '"Infinity"' if value > 0 else '"-Infinity"'


def _write(value: Any, out: list[str]) -> None:
    """Append Jackson's output for a nested value (objects keep their order)."""
    if isinstance(value, str):
        out.append(_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, Mapping):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(_string(str(key)))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"not a JSON value: {type(value).__name__}")


def _value(value: Any, no_floats: bool) -> str:
    """One top-level value. Without floats Python's C encoder prints what Jackson does,
    except ``\\u00xx`` escapes (lower-case there): those fall back to ``_write``."""
    if no_floats:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        if "\\u" not in text:
            return text
    out: list[str] = []
    _write(value, out)
    return "".join(out)


def _serialize(document: Mapping[str, Any], no_floats: bool) -> bytes:
    keys = order([str(k) for k in document])
    by_name = {str(k): v for k, v in document.items()}
    parts = [f"{_string(k)}:{_value(by_name[k], no_floats)}" for k in keys]
    # "replace": a lone surrogate becomes "?", as in Java's String.getBytes(UTF_8)
    return ("{" + ",".join(parts) + "}").encode("utf-8", "replace")


def serialize(document: Mapping[str, Any]) -> bytes:
    """What Jackson's ``writeValueAsString`` prints for a ``HashMap`` of ``document``.

    ``document``'s keys are put into the map in its iteration order; nested mappings keep
    their order. Values are JSON values (str, int, float, bool, None, lists, mappings).
    """
    return _serialize(document, no_floats=False)


@dataclass(frozen=True, slots=True)
class Parsed:
    """A body parsed once: the document and what the verifier refuses about it."""

    document: Any  # dicts keep the first position and last value of a repeated name
    duplicate_name: bool  # some object, at any depth, repeats a name
    trailing: bool  # non-whitespace bytes follow the JSON value
    has_float: bool  # some number is a float (Jackson: a Double)


_local = threading.local()


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        _local.duplicate = True
    return result


def _float_token(text: str) -> float:
    _local.has_float = True
    return float(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # RFC 8259; Jackson refuses it too


_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_float=_float_token, parse_constant=_no_constant
)
_WS: Final = " \t\n\r"


def parse(body: bytes) -> Parsed | None:
    """Parse ``body`` once, as Jackson reads it; None when it is not one JSON value."""
    _local.duplicate = False
    _local.has_float = False
    try:
        text = body.decode("utf-8")
        if text.startswith("\ufeff"):  # Jackson skips a UTF-8 BOM
            text = text[1:]
        start = len(text) - len(text.lstrip(_WS))
        document, end = _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):  # ValueError includes UnicodeDecodeError
        return None
    trailing = end != len(text) and bool(text[end:].strip(_WS))
    return Parsed(document, _local.duplicate, trailing, _local.has_float)


def reserialize_parsed(parsed: Parsed) -> bytes | None:
    """``reserialize`` of an already parsed body."""
    if type(parsed.document) is not dict:
        return None
    try:
        return _serialize(parsed.document, no_floats=not parsed.has_float)
    except RecursionError:
        return None


def reserialize(body: bytes) -> bytes | None:
    """The bytes Samsung's sample signs for ``body``; None when it would refuse the body.

    Bytes after the first JSON value are ignored, as Jackson ignores them (the verifier
    refuses such bodies separately).
    """
    parsed = parse(body)
    return None if parsed is None else reserialize_parsed(parsed)

"""The one JSON parse the verifier makes of a body: ``parse`` (re-exported by ``samsung``).

It reads the body as Jackson does (a UTF-8 BOM and surrounding whitespace skipped, bytes
after the first JSON value ignored but reported, ``NaN``/``Infinity`` refused) and also
reports what the verifier refuses: repeated object names at any depth, trailing bytes.

One scan, with ``object_pairs_hook`` (the strict scan, a Python call per object) so that
repeated names are seen; a body that repeats one is scanned a second time, keeping the
last value, for the signature check only (the verifier refuses it). Measured and NOT used
(December 2026, ``benchmarks/README.md``): a plain C scan first, with the strict scan only
when ``text.count(":")`` differs from the sum of ``len(d)`` over the parsed objects (a
sound test: every member has one ":" outside strings). The count walks the document in
Python, which costs what the hook saves: 2.75 vs 2.88 us on a callback, 4.26 vs 4.28 us on
Samsung's KG example, 7.9 vs 6.7 ms on a 1 MiB E-FOTA result.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, Final, NamedTuple


class Parsed(NamedTuple):
    """A body parsed once: the document and what the verifier refuses about it."""

    document: Any  # dicts keep the first position and last value of a repeated name
    duplicate_name: bool  # some object, at any depth, repeats a name
    trailing: bool  # non-whitespace bytes follow the JSON value
    has_float: bool  # some number is a float (Jackson: a Double)
    has_escape: bool = True  # the text holds a "\\" (False: no string holds an escape)


class _Repeated(Exception):
    """An object repeats a name (raised out of the strict scan; not a ValueError)."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Repeated
    return result


def _pairs_last_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(pairs)  # Map.put: the first position, the last value


_local = threading.local()  # per thread: whether the current parse met a float


def _float_token(text: str) -> float:
    _local.has_float = True
    return float(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # RFC 8259; Jackson refuses it too


def _scanner(pairs_hook: Any) -> Any:
    decoder = json.JSONDecoder(
        object_pairs_hook=pairs_hook, parse_float=_float_token, parse_constant=_no_constant
    )
    return decoder.scan_once  # type: ignore[attr-defined]  # raw_decode without its frame


_STRICT_SCAN: Final = _scanner(_pairs)
_LAST_WINS_SCAN: Final = _scanner(_pairs_last_wins)
_PLAIN_SCAN: Final = _scanner(None)  # dicts built in C: first position, last value too
_WS: Final = " \t\n\r"
_new_parsed: Final = tuple.__new__


def parse(body: bytes) -> Parsed | None:
    """Parse ``body`` as Jackson reads it; None when it does not start with a JSON value."""
    # Parsed is built with tuple.__new__ (the NamedTuple's own __new__ is a Python frame).
    local = _local
    local.has_float = False
    try:
        text = body.decode("utf-8")
        if text[:1] == "{":
            start = 0
        else:
            if text.startswith("\ufeff"):  # Jackson skips a UTF-8 BOM
                text = text[1:]
            start = len(text) - len(text.lstrip(_WS))
        duplicate = False
        try:
            document, end = _STRICT_SCAN(text, start)
        except _Repeated:
            duplicate = True
            document, end = _LAST_WINS_SCAN(text, start)
    except (ValueError, RecursionError, StopIteration):  # + UnicodeDecodeError, no value
        return None
    trailing = end != len(text) and bool(text[end:].strip(_WS))
    escape = "\\" in text
    return _new_parsed(Parsed, (document, duplicate, trailing, local.has_float, escape))


def parse_serialized(
    body: bytes, serialize: Callable[[Parsed], bytes | None]
) -> tuple[Parsed | None, bytes | None]:
    """``parse(body)`` and ``serialize`` of it, the repeated-name check done by counting.

    The Samsung form needs a serialization of the whole document anyway, so the hook is
    skipped (the plain C scan, ~2 us less on Samsung's KG example) and repeated names are
    found by counting ":". Outside strings a JSON text has exactly one ":" per member, and
    so has the serialization; inside strings both hold the same colons, provided the text
    has no "\\u" escape (the only escape that can decode to ":"; "\\u003a"). So, counting
    over the value's text and over the serialization, the counts are equal when no object
    repeats a name, and the serialization has fewer when one does (a repeated member is
    dropped). Equal counts clear the body; anything else (unequal, "\\u" in the text, no
    serialization) falls back to ``parse``, which decides exactly.

    ``serialize`` must write every member of the document, exactly one ":" per member
    outside strings, and every string's ":" characters as they are (Jackson's output and
    Python's C encoder both do; non-ASCII never encodes to a ":" byte in UTF-8).
    """
    local = _local
    local.has_float = False
    try:
        text = body.decode("utf-8")
        if text[:1] == "{":
            start = 0
        else:
            if text.startswith("\ufeff"):
                text = text[1:]
            start = len(text) - len(text.lstrip(_WS))
        document, end = _PLAIN_SCAN(text, start)
    except (ValueError, RecursionError, StopIteration):
        return None, None
    escape = "\\" in text
    if not escape or "\\u" not in text:
        trailing = end != len(text) and bool(text[end:].strip(_WS))
        parsed = _new_parsed(Parsed, (document, False, trailing, local.has_float, escape))
        serialized = serialize(parsed)
        if serialized is not None and serialized.count(b":") == text.count(":", start, end):
            return parsed, serialized
    strict = parse(body)
    return strict, None if strict is None else serialize(strict)

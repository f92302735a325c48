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


def parse_unchecked(body: bytes) -> tuple[Parsed, int] | None:
    """``parse`` WITHOUT the repeated-name check (the plain C scan, ~1 us less on a KG
    body): its ``duplicate_name`` is False unchecked. With it, the number of ":" in the
    JSON value's text, or -1 when the text holds a "\\u" escape (which may decode to ":").

    Only for ``samsung.parse_reserialized``, which does the check by counting colons.
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
        return None
    escape = "\\" in text
    if end == len(text):
        trailing = False
        colons = body.count(b":")  # the same as the text's when nothing follows the value
    else:
        trailing = bool(text[end:].strip(_WS))
        colons = text.count(":", start, end)
    if escape and "\\u" in text:
        colons = -1
    return _new_parsed(Parsed, (document, False, trailing, local.has_float, escape)), colons

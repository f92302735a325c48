"""Compact JSON as UTF-8 bytes, fast: the receiver's record lines, ``listen --json``
lines and answers, one per callback.

``orjson`` writes what ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``
writes for the values these lines hold (str, int, bool, None, lists, dicts with str
keys; no NaN), ~10x faster. What it refuses (an integer past 64 bits, a lone
surrogate, a key that is not a str) goes to ``json`` instead, so the answer is the same.
Floats may be spelled differently (``1e-05`` / ``1e-5``), with the same value.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON in UTF-8 (no newline)."""
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


def with_first(name: str, value: Any, line: bytes) -> bytes:
    """The JSON object ``line`` with ``name: value`` put first, without parsing it again
    (``{"kind":"callback", ...the record...}``)."""
    head = dumps({name: value})
    if line == b"{}":
        return head
    return head[:-1] + b"," + line[1:]

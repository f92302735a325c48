"""RFC 3339 timestamps, the one way knoxhook writes a moment as text.

UTC with a ``Z``, to the second (``2026-12-01T21:56:12Z``) or to the millisecond
(``2026-12-01T21:56:12.345Z``), the forms of Knox's JSON (``createdAt``), the token cache,
the certificate's validity and knoxhook's own output. Pure, stdlib only.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def rfc3339(moment: datetime | float, *, milliseconds: bool = False) -> str:
    """``moment`` (an aware datetime, or seconds since the epoch) as RFC 3339 in UTC.

    A naive datetime is taken as UTC (``cryptography``'s ``not_valid_after`` is one).
    """
    if isinstance(moment, datetime):
        when = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    else:
        when = datetime.fromtimestamp(moment, UTC)
    return when.isoformat(timespec="milliseconds" if milliseconds else "seconds").replace(
        "+00:00", "Z"
    )


_second: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text


def utc_now_text() -> str:
    """Now as RFC 3339 with milliseconds (``2026-12-02T03:04:05.678Z``), what
    ``rfc3339(datetime.now(UTC), milliseconds=True)`` gives at a tenth of its cost: the
    receiver stamps every callback with it."""
    global _second
    micros = round(time.time() * 1_000_000)  # as datetime rounds a timestamp
    second, within = divmod(micros, 1_000_000)
    cached = _second
    if cached[0] != second:
        cached = _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{within // 1000:03d}Z"

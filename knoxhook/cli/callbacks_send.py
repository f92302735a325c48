"""The posts ``knoxhook callbacks`` makes itself: ``replay`` (recorded callbacks, again:
which ones, ``recorded``) and ``retry --to URL`` (outbox letters, to another URL than
listen's --forward-to).

Both post once per callback, one at a time, with ``receiver.forwarder.Forwarder``: the
bytes kept and the headers a delivery sends (``handoff_headers``: Knox's signature,
trace id and nonce, ``Idempotency-Key``), so the app dedupes them as it dedupes
listen's own deliveries."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from knoxhook.receiver.handoff.outbox import Outbox


async def replay(records: list[dict[str, Any]], url: str) -> list[dict[str, Any]]:
    """POST each recorded (``--record``) callback to ``url``, plus ``X-Knoxhook-Replay: 1``."""
    from knoxhook.receiver.forwarder import Forwarder, handoff_headers

    forwarder = Forwarder(url)
    results = []
    try:
        for r in records:
            if "body_base64" in r:
                body = base64.b64decode(r["body_base64"])
            else:
                body = str(r["body"]).encode("utf-8")
            key = r.get("nonce")
            headers = handoff_headers(
                r.get("headers") or {}, str(r.get("form")), str(r.get("body_source")), key
            )
            headers["X-Knoxhook-Replay"] = "1"
            attempt = await forwarder.post(body, headers)
            results.append(
                {
                    "nonce": key,
                    "event": r.get("event"),
                    "received_at": r.get("received_at"),
                    "status": attempt.status,
                    "error": attempt.error,
                }
            )
    finally:
        await forwarder.close()
    return results


def since(text: str | None) -> float | None:
    """``--since``: an RFC 3339 time, or a duration back from now (``90s``, ``30m``,
    ``2h``, ``7d``); epoch seconds."""
    import re
    import time
    from datetime import datetime

    from knoxhook.errors import UsageError

    if text is None:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if match:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return time.time() - float(match.group(1)) * unit
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise UsageError(
            f"--since must be an RFC 3339 time with a zone or a duration: {text!r}",
            hint="for example --since 2h, or --since 2026-01-31T08:00:00Z",
        )
    return moment.timestamp()


def recorded(path: Path, after: float | None, events: list[str]) -> list[dict[str, Any]]:
    """The accepted callbacks of a --record file, oldest first: of ``events`` (all when
    empty), received at or ``after`` (epoch seconds, see ``since``)."""
    from datetime import datetime

    from knoxhook.errors import UsageError
    from knoxhook.receiver.recorder import read_records

    try:
        records = read_records(path)
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"--record {path}: cannot read it ({why})") from exc
    chosen = []
    for record in records:
        if record.get("verdict") != "accepted" or not isinstance(record.get("body"), str):
            continue
        if events and record.get("event") not in events:
            continue
        if after is not None:
            received = datetime.fromisoformat(str(record["received_at"]).replace("Z", "+00:00"))
            if received.timestamp() < after:
                continue
        chosen.append(record)
    return chosen


BUSY = "being delivered by a running listen now"


async def redeliver(box: Outbox, ids: list[int], url: str) -> list[dict[str, Any]]:
    """POST outbox rows ``ids`` to ``url`` once each, with the bytes and headers they were
    queued with, and settle each as listen's delivery loop would: taken (2xx) is
    ``delivered`` (body dropped, key kept: never sent again); otherwise a dead letter
    stays dead (its reason, status and error those of this attempt) and a pending one
    stays pending, due when it was, for listen's own --forward-to. A row a running
    listen is posting at this moment is left to it. Each result's ``outcome``:
    delivered, dead, pending or busy."""
    import asyncio

    from knoxhook.receiver.forwarder import Forwarder
    from knoxhook.receiver.handoff.delivery import DeliveryPolicy

    forwarder = Forwarder(url)
    judge = DeliveryPolicy(max_attempts=1).judge  # one attempt: not taken is dead again
    taken = {row.id: row for row in box.take(ids, time.time(), forwarder.timeout + 30)}
    results = []
    try:
        for row_id in ids:
            row = taken.get(row_id)
            if row is None:
                busy = {"nonce": None, "event": None, "outcome": "busy", "status": None}
                results.append({"id": row_id, **busy, "error": BUSY})
                continue
            assert row.body is not None  # dead and pending rows keep their body
            attempt = await forwarder.post(row.body, row.headers)
            outcome, reason = judge(attempt, 1)
            now = time.time()
            if outcome == "delivered":
                await asyncio.to_thread(box.delivered, row.id, now, attempt.status or 0)
            elif row.state == "dead":
                assert reason is not None
                outcome = "dead"
                await asyncio.to_thread(
                    box.dead, row.id, now, reason, attempt.status, attempt.error
                )
            else:  # pending: listen goes on delivering it to its own --forward-to
                outcome = "pending"
                await asyncio.to_thread(
                    box.retry_later, row.id, row.next_at, attempt.status, attempt.error
                )
            results.append(
                {
                    "id": row.id,
                    "nonce": row.nonce,
                    "event": row.event,
                    "outcome": outcome,
                    "status": attempt.status,
                    "error": attempt.error,
                }
            )
    finally:
        await forwarder.close()
        box.release_leases()  # the rows it did not get to (Ctrl-C): deliverable again
    return results

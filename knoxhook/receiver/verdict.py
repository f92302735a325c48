"""What the receiver decided about one callback: the verdict, the HTTP answer, the record.

Verdicts (``Verdict.verdict``), each counted once per request:

- ``accepted``: verified, claimed and kept (recorded, handed on): ``200``;
- ``forward_failed``: verified, but ``--forward-to`` could not hand it on: ``502``, the
  claim released so Knox's resend is accepted;
- ``unavailable``: the receiver cannot decide or keep it now (replay store down, record
  not writable, certificate refresh throttled or failed, the same callback in progress):
  ``503`` with ``Retry-After``, the claim released;
- ``rejected``: the sender's fault (forgery, replay, malformed): ``4xx``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from knoxhook import jsonline
from knoxhook.signature import Reason

BODY_PREFIX_BYTES: Final = 256  # what a record keeps of a body that did not verify


class ReceiverReason(StrEnum):
    """Why the receiver did not keep a callback, beyond ``signature.Reason``; stable."""

    IN_PROGRESS = "in_progress"  # the same nonce or signature is being kept right now
    STORE_UNAVAILABLE = "store_unavailable"  # the replay store cannot answer
    RECORD_FAILED = "record_failed"  # --record could not be written (disk full...)
    REFRESH_THROTTLED = "certificate_refresh_throttled"  # a new key? downloaded too recently
    REFRESH_FAILED = "certificate_refresh_failed"  # a new key? the download failed
    FORWARD_FAILED = "forward_failed"  # --forward-to: the app is down or answered 5xx
    READ_TIMEOUT = "read_timeout"  # the body did not arrive within the deadline
    OUTBOX_FAILED = "outbox_failed"  # --forward-to: the outbox could not be written
    STREAM_UNAVAILABLE = "stream_unavailable"  # --to-stream: the XADD failed


class Refused(Exception):
    """The receiver did not keep a callback, for a ``ReceiverReason``."""

    def __init__(self, reason: ReceiverReason, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


STATUS_FOR: Final[dict[str, int]] = {
    Reason.REPLAYED_NONCE: 409,
    Reason.REPLAYED_SIGNATURE: 409,
    Reason.BODY_TOO_LARGE: 413,
    Reason.NO_CERTIFICATE: 503,
    ReceiverReason.IN_PROGRESS: 503,
    ReceiverReason.STORE_UNAVAILABLE: 503,
    ReceiverReason.RECORD_FAILED: 503,
    ReceiverReason.REFRESH_THROTTLED: 503,
    ReceiverReason.REFRESH_FAILED: 503,
    ReceiverReason.FORWARD_FAILED: 502,
    ReceiverReason.READ_TIMEOUT: 408,
    ReceiverReason.OUTBOX_FAILED: 503,
    ReceiverReason.STREAM_UNAVAILABLE: 503,
}
RETRY_AFTER: Final = "5"  # seconds, on every 503: Knox may retry soon


def status_for(reason: str) -> int:
    """The HTTP status answered for a refusal ``reason`` (400 unless listed above)."""
    return STATUS_FOR.get(reason, 400)


def verdict_for(status: int) -> str:
    if status < 300:
        return "accepted"
    if status == 502:
        return "forward_failed"
    if status == 503:
        return "unavailable"
    return "rejected"


@dataclass
class Verdict:
    """What happened to one callback: the recorded line, and what ``on_callback`` gets."""

    received_at: str
    verdict: str  # "accepted" | "forward_failed" | "unavailable" | "rejected"
    status: int
    reason: str | None
    message: str | None
    event: str | None = None
    subscription_id: str | None = None
    nonce: str | None = None
    trace_id: str | None = None
    form: str | None = None
    certificate: str | None = None
    forward: dict[str, Any] | None = None
    rotation: dict[str, list[str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw_body: bytes = b""  # as received
    kept: bytes | None = None  # verified: what is recorded and forwarded
    kept_source: str | None = None  # "received" (the signed bytes) | "signed"
    source: str | None = None  # the client address
    _line: bytes | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def accepted(self) -> bool:
        return self.verdict == "accepted"

    @property
    def body(self) -> str:
        """The body as received, as text (invalid UTF-8 replaced)."""
        return self.raw_body.decode("utf-8", "replace")

    def settle(self, status: int, reason: str | None = None, message: str | None = None) -> None:
        self.status, self.reason, self.message = status, reason, message
        self.verdict = verdict_for(status)
        self._line = None

    def record_line(self) -> bytes:
        """``to_json()`` as compact JSON (``knoxhook.jsonline``), built once: the record
        and ``listen --json`` share it. Call it once the verdict is settled."""
        if self._line is None:
            self._line = jsonline.dumps(self.to_json())
        return self._line

    def answer(self) -> dict[str, Any]:
        """The JSON body of the HTTP answer."""
        if self.verdict == "accepted":
            return {
                "status": "accepted",
                "event": self.event,
                "subscriptionId": self.subscription_id,
                "nonce": self.nonce,
            }
        return {"status": self.verdict, "reason": self.reason, "message": self.message}

    def to_json(self) -> dict[str, Any]:
        """The record line. The whole ``body`` only for a verified callback (the bytes
        kept: ``body_source`` says whether those are the bytes received or the signed
        bytes); of any other body only its size, SHA-256 and first 256 bytes
        (``body_truncated`` when there was more), so forged traffic cannot fill the disk."""
        record: dict[str, Any] = {
            "received_at": self.received_at,
            "verdict": self.verdict,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "event": self.event,
            "subscriptionId": self.subscription_id,
            "nonce": self.nonce,
            "trace_id": self.trace_id,
            "form": self.form,
            "certificate_sha256": self.certificate,
            "forward": self.forward,
            "rotation": self.rotation,
            "source": self.source,
            "headers": self.headers,
            "body_size": len(self.raw_body),
            "body_sha256": hashlib.sha256(self.raw_body).hexdigest(),
        }
        if self.kept is not None:
            record["body_source"] = self.kept_source
            _put_text(record, "body", self.kept)
        else:
            _put_text(record, "body", self.raw_body[:BODY_PREFIX_BYTES])
            record["body_truncated"] = len(self.raw_body) > BODY_PREFIX_BYTES
        return record


def _put_text(record: dict[str, Any], key: str, data: bytes) -> None:
    """``record[key]`` = ``data`` as text; also ``<key>_base64`` when it is not UTF-8."""
    text = data.decode("utf-8", "replace")
    record[key] = text
    if text.encode("utf-8") != data:
        record[key + "_base64"] = base64.b64encode(data).decode("ascii")

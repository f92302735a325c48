"""What a verification returns or records: the refusal reasons, the verified callback,
the steps of ``--explain``, and the nonce store it checks against."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Reason(StrEnum):
    """Why a callback was refused (``CallbackVerificationError.reason``); stable strings."""

    MISSING_SIGNATURE = "missing_signature"  # no X-WSM-SIGNATURE header
    MALFORMED_SIGNATURE_HEADER = "malformed_signature_header"  # not header.payload.signature
    # No longer raised: the signature is always checked as RS256 whatever "alg" says
    # (kept so that code matching on it still imports).
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    NO_CERTIFICATE = "no_certificate"  # no usable trusted certificate was given
    BODY_TOO_LARGE = "body_too_large"  # more than max_body_bytes
    # No longer raised: part 1 is ignored, as Samsung's sample ignores it (kept, as above).
    PAYLOAD_MISMATCH = "payload_mismatch"
    BAD_SIGNATURE = "bad_signature"  # no form verifies with any trusted certificate
    CERTIFICATE_EXPIRED = "certificate_expired"  # verifies only with an expired cert
    CERTIFICATE_NOT_YET_VALID = "certificate_not_yet_valid"  # ... only with a future cert
    BODY_NOT_JSON = "body_not_json"  # signature holds, but the body is not JSON
    BODY_NOT_OBJECT = "body_not_object"  # ... JSON but not an object
    MISSING_FIELD = "missing_field"  # ... no string subscriptionId / event
    MISSING_NONCE = "missing_nonce"  # no x-knox-nonce header (required since 25.04)
    REPLAYED_NONCE = "replayed_nonce"  # the nonce was seen before
    REPLAYED_SIGNATURE = "replayed_signature"  # same signature seen before, fresh nonce
    DUPLICATE_KEY = "duplicate_key"  # the body repeats an object name (any depth)
    DUPLICATE_HEADER = "duplicate_header"  # two X-WSM-SIGNATURE or two x-knox-nonce
    MALFORMED_NONCE = "malformed_nonce"  # x-knox-nonce too long or not printable ASCII


class NonceStore(Protocol):
    """Remembers nonces of verified callbacks (see ``knoxhook.receiver.nonces``, whose
    ``ReplayStore`` adds the two-phase claims the receiver uses)."""

    def check_and_remember(self, nonce: str, now: float) -> bool:
        """Remember ``nonce``; False when it was already seen (a replay)."""
        ...

    def forget(self, nonce: str) -> None:
        """Release ``nonce`` (its callback was not kept), so a resend is accepted."""
        ...


@dataclass(slots=True)
class VerifiedCallback:
    """A callback whose signature, body and nonce checked out."""

    event: str
    subscription_id: str
    payload: Any
    nonce: str | None
    trace_id: str | None
    form: str  # e.g. "raw-body/padded/detached", "samsung-reserialized/padded/attached"
    certificate_fingerprint: str  # SHA-256 of the certificate that verified it
    body: dict[str, Any] = field(repr=False, default_factory=dict)
    # The exact bytes the signature covers (the received body for the raw-body forms,
    # Samsung's re-serialization or the compact re-encoding otherwise). Record and forward
    # these, not the received bytes, unless ``body_is_signed``.
    signed_bytes: bytes = field(repr=False, default=b"")
    body_is_signed: bool = True  # the received bytes ARE the signed bytes
    signature: bytes = field(repr=False, default=b"")  # the decoded signature (part 2)

    @property
    def signature_sha256(self) -> str:
        """Hex SHA-256 of the decoded signature: the replay store's key ("" without one).

        RSASSA-PKCS1-v1_5 is deterministic, so a replay with a fresh nonce carries the
        same signature. Computed on use: a caller without a replay store does not pay.
        """
        return hashlib.sha256(self.signature).hexdigest() if self.signature else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": True,
            "event": self.event,
            "subscriptionId": self.subscription_id,
            "nonce": self.nonce,
            "trace_id": self.trace_id,
            "form": self.form,
            "certificate_sha256": self.certificate_fingerprint,
            "payload": self.payload,
        }


@dataclass(frozen=True)
class Attempt:
    """One step of a verification, for ``verify --explain``."""

    step: str  # "header", "signature", "body", "nonce"
    outcome: str  # "ok" or why it failed
    form: str | None = None
    certificate: str | None = None  # SHA-256 fingerprint
    signing_input: str | None = None  # abbreviated

    def to_json(self) -> dict[str, str | None]:
        return {
            "step": self.step,
            "form": self.form,
            "certificate_sha256": self.certificate,
            "signing_input": self.signing_input,
            "outcome": self.outcome,
        }

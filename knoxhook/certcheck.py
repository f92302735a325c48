"""Is a Knox validation certificate fit for the coming N days, with the key we expect?

The nightly job (``knoxhook cert check``, ``knoxhook doctor``): a certificate that expires
within ``min_days``, or whose public-key pin is not one of the expected ones, is a problem
to act on BEFORE callbacks start failing verification. Knox signs every callback with the
key of this certificate (knox-api.md §4); Samsung re-issued it in 2024 with the same key,
so the pin (base64 SHA-256 of the SubjectPublicKeyInfo, curl's ``sha256//`` form) is what
"the key changed" means, not the fingerprint.

Pure: no disk, no network (the caller reads or downloads the PEM).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from knoxhook.certinfo import CertificateInfo
from knoxhook.errors import CertificateError, UsageError
from knoxhook.timestamps import rfc3339

PIN_PREFIX = "sha256//"


class Status(StrEnum):
    """The verdict, worst first; stable values for ``--json`` (docs/commands.md)."""

    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    PIN_MISMATCH = "pin_mismatch"
    EXPIRES_SOON = "expires_soon"
    OK = "ok"


# the error ``code`` of each failing verdict, in the JSON error object (exit 8 for all)
ERROR_CODES = {
    Status.EXPIRED: "certificate_expired",
    Status.NOT_YET_VALID: "certificate_not_yet_valid",
    Status.PIN_MISMATCH: "certificate_pin_mismatch",
    Status.EXPIRES_SOON: "certificate_expires_soon",
}


def parse_pin(text: str) -> str:
    """The base64 pin of ``sha256//<base64>`` (or a bare base64 pin); UsageError when it
    is not 32 bytes of base64 (a fingerprint in hex is the usual mistake)."""
    value = text.strip()
    if value.startswith(PIN_PREFIX):
        value = value[len(PIN_PREFIX) :]
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise UsageError(
            f"--expect-pin {text!r} is not a sha256// public-key pin",
            hint="use the spki_sha256 value `knoxhook cert show` prints, e.g. sha256//AbC...=",
        )
    return value


@dataclass(frozen=True)
class CheckResult:
    """What ``check`` found: the worst ``status`` and every problem, one sentence each."""

    status: Status
    problems: tuple[str, ...]
    info: CertificateInfo
    min_days: int
    expected_pins: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def pin_matches(self) -> bool | None:
        """None when no pin was expected."""
        if not self.expected_pins:
            return None
        return self.info.spki_sha256 in self.expected_pins

    def to_json(self, source: str) -> dict[str, Any]:
        """Stable keys for ``cert check --json`` (docs/commands.md)."""
        return {
            "status": str(self.status),
            "source": source,
            "min_days": self.min_days,
            "days_left": self.info.days_left,
            "not_after": rfc3339(self.info.not_after),
            "spki_sha256": self.info.spki_sha256,
            "pin_matches": self.pin_matches,
            "problems": list(self.problems),
        }

    def error(self) -> CertificateError | None:
        """The exit-8 error of a failing verdict (None when ok), its ``code`` the verdict's."""
        if self.ok:
            return None
        error = CertificateError(
            "; ".join(self.problems),
            hint="run `knoxhook cert fetch` for the current certificate"
            if self.status is not Status.PIN_MISMATCH
            else "if Knox announced a new key, update the pinned copies and --expect-pin",
        )
        error.code = ERROR_CODES[self.status]
        return error


def check(info: CertificateInfo, *, min_days: int, pins: Sequence[str] = ()) -> CheckResult:
    """The verdict on ``info``: expired, not yet valid, an unexpected key, or fewer than
    ``min_days`` whole days left; ``pins`` are base64 pins (any one may match: a backup
    pin for a planned rotation, as HPKP and curl allow)."""
    problems: list[tuple[Status, str]] = []
    if info.expired:
        problems.append((Status.EXPIRED, f"the certificate expired on {rfc3339(info.not_after)}"))
    elif info.not_yet_valid:
        start = rfc3339(info.not_before)
        problems.append((Status.NOT_YET_VALID, f"the certificate is not valid before {start}"))
    if pins and info.spki_sha256 not in pins:
        problems.append(
            (
                Status.PIN_MISMATCH,
                f"the certificate's public key changed: its pin is sha256//{info.spki_sha256}, "
                f"not the expected {', '.join(PIN_PREFIX + p for p in pins)}",
            )
        )
    if not info.expired and info.days_left < min_days:
        problems.append(
            (
                Status.EXPIRES_SOON,
                f"the certificate {info.when} (on {rfc3339(info.not_after)}), "
                f"fewer than --min-days {min_days}",
            )
        )
    order = list(Status)
    status = min((s for s, _ in problems), key=order.index, default=Status.OK)
    return CheckResult(status, tuple(p for _, p in problems), info, min_days, tuple(pins))

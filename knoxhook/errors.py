"""The exception tree of knoxhook, and the process exit codes.

Domain code raises these; only ``knoxhook.cli.main.main`` turns them into a
one-line message and an exit code. Nothing here imports typer or rich.

Hierarchy::

    KnoxhookError                      exit 1  unexpected / generic
    +-- UsageError                     exit 2  bad input from the user
    +-- NotConfiguredError             exit 3  no credentials, profile, or certificate
    +-- AuthenticationError            exit 4  the token endpoint / API refused the credentials
    +-- ApiError                       exit 5  the API refused the request (4xx, validation)
    |   +-- NotFoundError              exit 6  unknown subscription id (404)
    +-- TransportError                 exit 7  network, timeout, 5xx after retries
    |   +-- MalformedResponseError     exit 7  a 2xx answer that is not what Knox sends
    +-- VerificationError              exit 8  signature, certificate or replay check failed
        +-- CertificateError           exit 8  certificate unreadable, expired, not yet valid
        +-- CallbackVerificationError  exit 8  a callback failed verification (has ``reason``)

Every error has ``message`` (one line, never a secret), an optional ``hint`` (what to
do next; a class's ``default_hint`` when the raiser gives none) and a stable string
``code`` used in JSON error output.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; documented in README.md and ``knoxhook --help``."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    NOT_CONFIGURED = 3
    AUTH_REFUSED = 4
    API_REFUSED = 5
    NOT_FOUND = 6
    NETWORK = 7
    VERIFICATION = 8
    INTERRUPTED = 130


class KnoxhookError(Exception):
    """Base of every error knoxhook raises on purpose."""

    exit_code: ExitCode = ExitCode.UNEXPECTED
    code: str = "error"
    default_hint: str | None = None  # the hint when the raiser gives none

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint or self.default_hint

    def __str__(self) -> str:
        return self.message


class UsageError(KnoxhookError):
    """The user's input is wrong (bad flag value, unknown event, bad file)."""

    exit_code = ExitCode.USAGE
    code = "usage_error"


class NotConfiguredError(KnoxhookError):
    """Something the command needs is not set up: credentials, profile, certificate."""

    exit_code = ExitCode.NOT_CONFIGURED
    code = "not_configured"


class AuthenticationError(KnoxhookError):
    """The credentials or the access token were refused (401, invalid_client)."""

    exit_code = ExitCode.AUTH_REFUSED
    code = "auth_refused"


class ApiError(KnoxhookError):
    """The Knox API refused the request (4xx other than 401/404).

    ``status`` is the HTTP status; ``knox_code`` and ``knox_name`` come from the Knox
    error body ``{"code": int, "message": "UPPER_SNAKE", "data": "text"}`` when present.
    """

    exit_code = ExitCode.API_REFUSED
    code = "api_refused"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        knox_code: int | None = None,
        knox_name: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.knox_code = knox_code
        self.knox_name = knox_name


class NotFoundError(ApiError):
    """The resource does not exist (404)."""

    exit_code = ExitCode.NOT_FOUND
    code = "not_found"


class TransportError(KnoxhookError):
    """Network failure, timeout, or server error that persisted after retries.

    ``ambiguous`` is true when the request may have reached the server (so a
    non-idempotent request such as a create may or may not have taken effect).
    """

    exit_code = ExitCode.NETWORK
    code = "network_error"

    def __init__(
        self,
        message: str,
        *,
        ambiguous: bool = False,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.ambiguous = ambiguous
        self.status = status


MALFORMED_HINT = (
    "check the base URL (--base-url / KNOXHOOK_BASE_URL): a proxy, a captive portal or "
    "another server may be answering instead of Knox"
)


class MalformedResponseError(TransportError):
    """A 2xx answer that is not JSON, or not the documented shape: a proxy's HTML page or
    a wrong base URL, not a bug in knoxhook (exit 7). The hint says where to look."""

    code = "malformed_response"
    default_hint = MALFORMED_HINT


class VerificationError(KnoxhookError):
    """A signature, certificate or replay check failed."""

    exit_code = ExitCode.VERIFICATION
    code = "verification_failed"


class CertificateError(VerificationError):
    """A certificate could not be read, has expired, or is not yet valid."""

    code = "certificate_error"


class CallbackVerificationError(VerificationError):
    """A Knox callback failed verification.

    ``reason`` is one of the documented values of ``knoxhook.signature.Reason``
    (a ``StrEnum``, so it compares equal to its string); ``message`` says precisely
    which check failed.
    """

    code = "callback_rejected"

    def __init__(self, reason: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason

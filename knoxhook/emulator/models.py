"""The emulator's contract: every body it reads and every answer it gives, as pydantic models.

One source (issue 10.7): the handlers validate requests with these models
(``httputil.parse_body``) and build their answers from them, and ``openapi.py`` generates
``/openapi.json`` from the same classes, so the document and the behaviour cannot
disagree. Every rule a handler enforces is a constraint here (a pattern, a bound, an
enum) or a validator whose rule the schema also states (``json_schema_extra``).

Knox's error names: a custom error's ``type`` is the Knox ``message`` it answers with
(``UNKNOWN_EVENT``...); other errors take the name in the model's ``FIELD_ERRORS`` for
their field, else ``INVALID_REQUEST_BODY`` (knox-api.md §3, ``httputil.ERROR_CODES``).

pydantic is imported by the emulator's app only, never on the CLI's start-up path.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from knoxhook import events, wire
from knoxhook.emulator import TRACE_ID_PATTERN, CertAction, SigningMode

MAX_URL_LENGTH: Final = 2048
FAULT_STATUSES: Final = (400, 401, 403, 404, 406, 408, 409, 422, 429, 500, 501, 502, 503, 504)
MAX_FAULT_COUNT: Final = 1_000_000
MAX_FAULT_DELAY: Final = 60.0  # seconds the emulator will stall a request
# Retry-After may ask for more than a client waits (``RetryPolicy.max_retry_after``, 60 s),
# so that the client's "Knox asked to wait too long" path can be tested (issue 9.6).
MAX_RETRY_AFTER: Final = 86_400.0

_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
# White space and control characters, spelled out: `\s` differs between Python's regexes
# and the ECMA-262 ones of a JSON Schema pattern (U+0085 is white space to one only).
# (Lone surrogates never get this far: ``httputil.read_json`` refuses them.)
_BLANK = r"\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# An absolute http(s) URL: scheme, optional user info, a host (or [IPv6]), an optional
# port 0-65535, then anything but white space. The same regex validates (fullmatch) and
# is the schema's ``pattern``.
URL_PATTERN: Final = (
    rf"^[hH][tT][tT][pP][sS]?://([^{_BLANK}/?#@]*@)?(\[[0-9A-Fa-f:.]+\]|[^{_BLANK}/?#@\[\]:]+)"
    rf"(:{_PORT})?([/?#][^{_BLANK}]*)?$"
)
_URL = re.compile(URL_PATTERN)


def _known_event(name: str) -> str:
    if name not in events.EVENT_NAMES:
        raise PydanticCustomError("UNKNOWN_EVENT", events.unknown_events_message([name]))
    return name


def _unique(names: list[str]) -> list[str]:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise PydanticCustomError("DUPLICATE_EVENT", f"event {name} is listed twice")
        seen.add(name)
    return names


def _callback_url(value: str) -> str:
    if len(value) > MAX_URL_LENGTH or not _URL.fullmatch(value):
        raise PydanticCustomError(
            "INVALID_URL",
            "the callback URL must be an absolute http(s) URL (a host, an optional port "
            f"0-65535, no white space, at most {MAX_URL_LENGTH} characters), "
            f"got {value[:100]!r}",
        )
    return value


EventName = Annotated[
    StrictStr,
    AfterValidator(_known_event),
    WithJsonSchema({"type": "string", "enum": sorted(events.EVENT_NAMES)}),
]
EventList = Annotated[
    list[EventName],
    Field(min_length=1, json_schema_extra={"uniqueItems": True}),
    AfterValidator(_unique),
]
CallbackUrl = Annotated[
    StrictStr,
    AfterValidator(_callback_url),
    WithJsonSchema({"type": "string", "pattern": URL_PATTERN, "maxLength": MAX_URL_LENGTH}),
]
Seconds = Annotated[float, Field(allow_inf_nan=False, strict=True)]


def _json_integer(value: Any) -> Any:
    """JSON Schema's "integer" is any number with no fraction: 427.0 is one (a bool or a
    string is not)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def json_integer(minimum: int, maximum: int) -> Any:
    """An integer from ``minimum`` to ``maximum``, as JSON Schema counts integers."""
    return Annotated[StrictInt, Field(ge=minimum, le=maximum), BeforeValidator(_json_integer)]


class Body(BaseModel):
    """A request body: ``FIELD_ERRORS`` names the Knox error for a bad field."""

    FIELD_ERRORS: ClassVar[dict[str, str]] = {}
    FIELD_HINTS: ClassVar[dict[str, str]] = {}


# --- the Subscription API (knox-api.md §3) -------------------------------------------
_ONE_URL: Final[JsonDict] = {"not": {"required": [wire.F_URL, "callbackUrl"]}}


class _SubscriptionFields(Body):
    """``url`` (or its alias ``callbackUrl``) and ``events``; unknown fields are ignored."""

    FIELD_ERRORS: ClassVar[dict[str, str]] = {
        "url": "INVALID_URL",
        "callbackUrl": "INVALID_URL",
        "events": "INVALID_EVENTS",
    }
    FIELD_HINTS: ClassVar[dict[str, str]] = {"events": "a non-empty list of event names"}

    url: CallbackUrl | None = None
    callbackUrl: CallbackUrl | None = Field(None, description="alias of url; send one")
    events: EventList | None = None

    @model_validator(mode="after")
    def _one_url(self) -> _SubscriptionFields:
        if self.url is not None and self.callbackUrl is not None and self.url != self.callbackUrl:
            raise PydanticCustomError("INVALID_URL", "'url' and 'callbackUrl' disagree; send one")
        return self

    @property
    def callback_url(self) -> str | None:
        return self.url if self.url is not None else self.callbackUrl


class SubscriptionCreate(_SubscriptionFields):
    model_config = ConfigDict(
        json_schema_extra={
            "required": ["events"],
            "anyOf": [{"required": [wire.F_URL]}, {"required": ["callbackUrl"]}],
            **_ONE_URL,
        }
    )

    @model_validator(mode="after")
    def _complete(self) -> SubscriptionCreate:
        if self.callback_url is None:
            raise PydanticCustomError("INVALID_URL", "'url' is required (an absolute http(s) URL)")
        if self.events is None:
            raise PydanticCustomError(
                "INVALID_EVENTS", "'events' is required (a non-empty list of event names)"
            )
        return self


class SubscriptionUpdate(_SubscriptionFields):
    """Fields present are replaced; at least one is needed."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [{"required": [name]} for name in (wire.F_URL, "callbackUrl", "events")],
            **_ONE_URL,
        }
    )

    @model_validator(mode="after")
    def _something(self) -> SubscriptionUpdate:
        if self.callback_url is None and self.events is None:
            raise PydanticCustomError(
                "INVALID_REQUEST_BODY", "send 'url' and/or 'events' to update"
            )
        return self


class Subscription(BaseModel):
    subscriptionId: str = Field(pattern="^[0-9a-f]{24}$")
    url: str
    events: list[EventName]
    createdAt: str = Field(json_schema_extra={"format": "date-time"})
    updatedAt: str = Field(json_schema_extra={"format": "date-time"})


class KnoxError(BaseModel):
    """The error body of every Knox API and control endpoint (knox-api.md §3)."""

    code: int
    message: str = Field(description="UPPER_SNAKE name")
    data: str = Field(description="what exactly is wrong")


# --- OAuth 2.0 (knox-api.md §2a) --------------------------------------------------------
class TokenForm(Body):
    """The token request (form-encoded); credentials here or as HTTP Basic."""

    model_config = ConfigDict(extra="ignore")

    grant_type: Literal["client_credentials"]
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None
    expires_in: Annotated[int, Field(ge=1, le=wire.MAX_TOKEN_LIFETIME)] | None = None


class RevokeForm(Body):
    token: Annotated[str, Field(min_length=1)]


class Token(BaseModel):
    access_token: str
    scope: str
    expires_in: int
    token_type: Literal["Bearer"]


class OAuthError(BaseModel):
    error: str
    error_description: str


# --- control endpoints ----------------------------------------------------------------
class TriggerBody(Body):
    FIELD_ERRORS: ClassVar[dict[str, str]] = {"event": "INVALID_EVENTS"}

    event: EventName
    payload: dict[str, Any] | None = Field(
        None, description="the callback's payload; default: an example for the event"
    )
    traceId: Annotated[str, Field(pattern=TRACE_ID_PATTERN)] | None = None
    signing: SigningMode | None = Field(None, description="this callback's signing mode")


class Delivery(BaseModel):
    id: str
    event: str
    subscriptionId: str
    url: str
    traceId: str
    nonce: str
    signing: SigningMode
    status: Literal["delivered", "failed"]
    httpStatus: int | None
    attempts: int
    latencyMs: float | None
    error: str | None
    createdAt: str = Field(json_schema_extra={"format": "date-time"})


class FaultSpec(Body):
    """Make the next ``count`` requests matching ``path`` (and ``method``) misbehave."""

    FIELD_HINTS: ClassVar[dict[str, str]] = {
        "path": "a path, or an fnmatch pattern, starting with '/'",
        "count": f"a whole number from 1 to {MAX_FAULT_COUNT}",
        "delay": f"a number of seconds from 0 to {MAX_FAULT_DELAY:g}",
        "retry_after": f"a number of seconds from 0 to {MAX_RETRY_AFTER:g}",
    }

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["status"]},
                {"required": ["drop"], "properties": {"drop": {"const": True}}},
                {"required": ["delay"], "properties": {"delay": {"exclusiveMinimum": 0}}},
            ],
            "not": {"required": ["status", "drop"], "properties": {"drop": {"const": True}}},
        },
    )

    path: Annotated[StrictStr, Field(pattern="^/", max_length=MAX_URL_LENGTH)] = Field(
        description="an exact path or an fnmatch pattern, from '/'"
    )
    method: Annotated[StrictStr, Field(pattern="^[A-Za-z]{1,16}$")] | None = None
    count: json_integer(1, MAX_FAULT_COUNT) = 1  # type: ignore[valid-type]
    status: Literal[FAULT_STATUSES] | None = None  # type: ignore[valid-type]
    retry_after: Annotated[Seconds, Field(ge=0, le=MAX_RETRY_AFTER)] | None = None
    delay: Annotated[Seconds, Field(ge=0, le=MAX_FAULT_DELAY)] = 0.0
    drop: StrictBool = False
    after: StrictBool = Field(False, description="apply after the real handler ran")

    @model_validator(mode="after")
    def _effect(self) -> FaultSpec:
        if self.status is None and not self.drop and not self.delay:
            raise PydanticCustomError(
                "INVALID_REQUEST_BODY", "a fault needs 'status', 'drop' or 'delay'"
            )
        if self.status is not None and self.drop:
            raise PydanticCustomError(
                "INVALID_REQUEST_BODY", "'status' and 'drop' exclude each other"
            )
        return self


class Fault(BaseModel):
    """A pending fault, with the uses left in ``count``."""

    path: str
    method: str | None
    count: int
    status: int | None
    retry_after: float | None
    delay: float
    drop: bool
    after: bool


class CertificateRequest(Body):
    action: CertAction


class CertificateInfo(BaseModel):
    serial: str
    notBefore: str = Field(json_schema_extra={"format": "date-time"})
    notAfter: str = Field(json_schema_extra={"format": "date-time"})
    fingerprintSha256: str = Field(pattern="^[0-9a-f]{64}$")
    publicKeySha256: str = Field(pattern="^[0-9a-f]{64}$")


class Stats(BaseModel):
    token_requests: int
    tokens_issued: int
    tokens_refused: int
    tokens_revoked: int
    unauthorized: int
    deliveries: int
    deliveries_failed: int
    delivery_attempts: int
    faults_applied: int
    subscriptions: int
    requests: dict[str, int] = Field(description="by 'METHOD path template'")
    requests_total: int


class Health(BaseModel):
    status: Literal["ok"]

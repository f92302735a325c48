"""Small HTTP helpers shared by the emulator's handlers: error bodies, Accept, reading and
validating bodies (``parse_body``), answering with a model (``json_answer``)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from knoxhook import wire

if TYPE_CHECKING:
    from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound="BaseModel")
MAX_FORM_BYTES: Final = 64 * 1024

# The emulator's Knox error codes [assume: KWN's are not public; the shape is the one
# Knox Configure documents]. Six digits, the first three the HTTP status.
ERROR_CODES: dict[str, int] = {
    "INVALID_REQUEST_BODY": 400001,
    "INVALID_URL": 400002,
    "INVALID_EVENTS": 400003,
    "UNKNOWN_EVENT": 400004,
    "DUPLICATE_EVENT": 400005,
    "EVENT_ALREADY_SUBSCRIBED": 400006,
    "UNAUTHORIZED": 401001,
    "SUBSCRIPTION_NOT_FOUND": 404001,
    "NOT_FOUND": 404002,
    "METHOD_NOT_ALLOWED": 405001,
    "NOT_ACCEPTABLE": 406001,
    "PAYLOAD_TOO_LARGE": 413001,
    "INTERNAL_SERVER_ERROR": 500001,
}


class BadRequest(Exception):
    """Raised inside a handler; turned into the Knox error body by the app."""

    def __init__(self, status: int, name: str, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.name = name
        self.text = text


def knox_error(
    status: int, name: str, text: str, headers: dict[str, str] | None = None
) -> Response:
    body = {
        wire.F_ERROR_CODE: ERROR_CODES.get(name, status * 1000),
        wire.F_ERROR_NAME: name,
        wire.F_ERROR_TEXT: text,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def oauth_error(status: int, error: str, description: str, **headers: str) -> Response:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store", **headers},
    )


def _media_ranges(header: str) -> list[tuple[str, float]]:
    ranges: list[tuple[str, float]] = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        quality = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media, quality))
    return ranges


def accepts(request: Request, offered: str) -> bool:
    """Does the request's ``Accept`` allow ``offered`` (e.g. ``application/json``)?"""
    header = request.headers.get("accept")
    if header is None or not header.strip():
        return True
    kind = offered.split("/")[0]
    for media, quality in _media_ranges(header):
        if quality > 0 and media in (offered, f"{kind}/*", "*/*"):
            return True
    return False


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # RFC 8259; Jackson refuses it too


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e400: it could not be sent on as JSON
        raise ValueError(f"the number {text[:40]} is too large")
    return value


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or BadRequest 413 as soon as more than ``limit`` bytes have come.

    Checked while streaming, so an oversized body (declared or chunked) is never held in
    memory whole: at most ``limit`` bytes plus one chunk (issue 14.4).
    """
    too_large = BadRequest(413, "PAYLOAD_TOO_LARGE", f"the body is larger than {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body, or BadRequest with a precise reason (never a 500)."""
    raw = await read_body(request, limit)
    if not raw.strip():
        raise BadRequest(400, "INVALID_REQUEST_BODY", "the request body is empty; send JSON")
    try:
        value = json.loads(raw, parse_constant=_not_json, parse_float=_finite)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, json.JSONDecodeError):
            reason = exc.msg
        elif isinstance(exc, UnicodeDecodeError):
            reason = "not UTF-8"
        else:
            reason = str(exc) if isinstance(exc, ValueError) else type(exc).__name__
        raise BadRequest(
            400, "INVALID_REQUEST_BODY", f"the request body is not valid JSON: {reason}"
        ) from None
    # A \ud800-\udfff escape without its pair decodes to no Unicode text: it could be
    # neither stored nor sent on (RFC 8259 §8.2 calls it unpredictable).
    if _SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(value):
        raise BadRequest(
            400, "INVALID_REQUEST_BODY", "the request body holds a lone UTF-16 surrogate escape"
        )
    return value


async def read_form(request: Request, limit: int) -> dict[str, str]:
    """The form fields; fields sent without a value count as absent (RFC 6749 §3.1)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise BadRequest(
            400, "invalid_request", "send the request as application/x-www-form-urlencoded"
        )
    try:
        raw = await read_body(request, limit)
    except BadRequest:
        raise BadRequest(400, "invalid_request", f"the form is larger than {limit} bytes") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(400, "invalid_request", "the form is not UTF-8") from None
    return {k: v for k, v in parse_qsl(text, keep_blank_values=True) if v != ""}


async def parse_body(request: Request, model: type[ModelT], *, form: bool = False) -> ModelT:
    """The body validated by ``model``; BadRequest naming the Knox error otherwise."""
    from pydantic import ValidationError

    limit = request.app.state.emulator.config.max_body_bytes
    data: Any = await (read_form(request, MAX_FORM_BYTES) if form else read_json(request, limit))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        name, text = describe(model, exc.errors(include_url=False, include_input=False))
        raise BadRequest(400, name, text) from None


_PHRASES = {
    "missing": "is required",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "dict_type": "must be a JSON object",
    "finite_number": "must be a finite number",
}


def describe(model: type[Any], errors: list[Any]) -> tuple[str, str]:
    """The Knox error name and a one-line text for the first of pydantic's ``errors``."""
    extra = [str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden"]
    if extra:
        return "INVALID_REQUEST_BODY", f"unknown fields: {', '.join(extra)}"
    first = errors[0]
    kind, loc = first["type"], first["loc"]
    if kind in ERROR_CODES:  # a PydanticCustomError named after the Knox error
        return kind, str(first["msg"])
    if not loc:  # the body itself
        return "INVALID_REQUEST_BODY", "the request body must be a JSON object"
    name = getattr(model, "FIELD_ERRORS", {}).get(loc[0], "INVALID_REQUEST_BODY")
    where = f"'{loc[0]}'" + (f" item {'.'.join(str(p) for p in loc[1:])}" if loc[1:] else "")
    message = str(first["msg"])
    for should in ("Input should", "String should", "List should", "Value should"):
        message = message.replace(should, "must", 1)
    phrase = _PHRASES.get(kind) or message
    hint = getattr(model, "FIELD_HINTS", {}).get(loc[0])
    return name, f"{where} {phrase}" + (f": expected {hint}" if hint else "")


def json_answer(
    value: BaseModel | Sequence[BaseModel], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response from a model (or a list of them), as the contract describes it."""
    if isinstance(value, Sequence):
        content = b"[" + b",".join(item.model_dump_json().encode() for item in value) + b"]"
    else:
        content = value.model_dump_json().encode()
    return Response(content, status_code=status, headers=headers, media_type="application/json")

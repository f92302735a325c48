"""Small HTTP helpers shared by the emulator's handlers: error bodies, Accept, JSON."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from knoxhook import wire

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


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body, or BadRequest with a precise reason (never a 500)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(413, "PAYLOAD_TOO_LARGE", f"the body is larger than {limit} bytes")
    raw = await request.body()
    if len(raw) > limit:
        raise BadRequest(413, "PAYLOAD_TOO_LARGE", f"the body is larger than {limit} bytes")
    if not raw.strip():
        raise BadRequest(400, "INVALID_REQUEST_BODY", "the request body is empty; send JSON")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise BadRequest(
            400, "INVALID_REQUEST_BODY", f"the request body is not valid JSON: {reason}"
        ) from None

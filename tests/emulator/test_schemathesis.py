"""schemathesis against the live emulator's own ``/openapi.json`` (issue 10.7).

Every operation of the document gets generated requests, schema-valid ones and (where
the operation has a body or parameters) schema-invalid ones, sent over loopback to a
running emulator. A request fails the test when the answer is a 5xx, has a status, a
content type or a body the document does not describe, or (for schema-valid data) is a
refusal such as 400: the emulator and its contract must agree both ways.

Each example runs on a fresh state (reset in-process, a new token), so examples cannot
disturb each other: no leftover fault, no event already held. For ``POST
/_emulator/events`` one subscription to a loopback recorder holds every event, so
generated payloads are really signed and delivered. Bounded: ``EXAMPLES`` per operation
and mode, derandomized, well under a minute; the count is printed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from knoxhook import events, wire
from knoxhook.emulator import DEMO_CLIENT_ID
from knoxhook.emulator.testing import EmulatorHandle, running_emulator
from knoxhook.serving import serve_in_thread

EXAMPLES = 20
# Operations whose schema is looser than their handler, so schema-valid data may be
# refused: AccessTokenRequest (emulator/legacy.py) types validityForAccessTokenInMinutes
# as `int | str` and refuses values outside 1..30 after validation.
LOOSE_SCHEMA = {wire.LEGACY_ACCESS_TOKEN_PATH}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def receiver() -> Iterator[list[bytes]]:
    bodies: list[bytes] = []

    async def receive(request: Request) -> Response:
        bodies.append(await request.body())
        return Response("ok")

    app = Starlette(routes=[Route("/cb", receive, methods=["POST"])])
    with serve_in_thread(app) as server:
        bodies.append(server.base_url.encode())  # first item: where it listens
        yield bodies


def _fresh(emu: EmulatorHandle, path: str, receiver_url: str) -> dict[str, str]:
    """A fresh state for one example; the headers to send with it."""
    state = emu.emulator
    state.store.reset()
    state.faults.clear()
    state.log.clear()
    if path.endswith("/events"):
        state.store.create(receiver_url, sorted(events.EVENT_NAMES))
    return {"Authorization": f"Bearer {state.store.issue_token(DEMO_CLIENT_ID, 'kwn', 600)}"}


def _explore(emu: EmulatorHandle, operation: Any, mode: GenerationMode, receiver_url: str) -> int:
    """Run the generated examples of one operation in one mode; how many ran."""
    strict = mode.is_positive and operation.path not in LOOSE_SCHEMA
    checks = [*CHECKS, positive_data_acceptance] if strict else CHECKS
    ran = [0]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        ran[0] += 1
        headers = _fresh(emu, case.path, receiver_url)
        case.call_and_validate(base_url=emu.base_url, headers=headers, checks=checks)

    run()
    return ran[0]


def _has_inputs(operation: Any) -> bool:
    definition = operation.definition.raw
    return bool(definition.get("requestBody") or operation.path_parameters)


def test_the_emulator_answers_as_its_openapi_document_says(
    receiver: list[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    receiver_url = receiver[0].decode() + "/cb"
    counts: dict[str, int] = {}
    started = time.monotonic()
    with running_emulator(delivery_retries=0) as emu:
        schema = schemathesis.openapi.from_url(emu.base_url + "/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation in operations:
            modes = [GenerationMode.POSITIVE]
            if _has_inputs(operation):
                modes.append(GenerationMode.NEGATIVE)
            for mode in modes:
                counts[f"{operation.label} ({mode.value})"] = _explore(
                    emu, operation, mode, receiver_url
                )
    elapsed = time.monotonic() - started
    delivered = len(receiver) - 1
    total = sum(counts.values())
    with capsys.disabled():
        print(
            f"\nschemathesis: {total} examples over {len(operations)} operations "
            f"({len(counts)} operation/mode pairs, {delivered} callbacks delivered) "
            f"in {elapsed:.1f} s"
        )
    assert len(operations) >= 20  # the whole table, not an empty document
    assert all(counts.values()), [label for label, n in counts.items() if not n]
    assert delivered > 0  # generated payloads were really signed and delivered
    assert elapsed < 60

"""errors: a class's ``default_hint`` is the hint when the raiser gives none."""

from __future__ import annotations

from knoxhook.errors import (
    MALFORMED_HINT,
    ExitCode,
    MalformedResponseError,
    TransportError,
)


def test_a_malformed_answer_says_where_to_look_unless_told_otherwise() -> None:
    plain = MalformedResponseError("Knox answered 200 with an HTML page", status=200)
    assert (plain.hint, plain.status, plain.ambiguous) == (MALFORMED_HINT, 200, False)
    assert (plain.exit_code, plain.code) == (ExitCode.NETWORK, "malformed_response")
    told = MalformedResponseError("x", hint="ask the proxy's owner", ambiguous=True)
    assert (told.hint, told.ambiguous) == ("ask the proxy's owner", True)


def test_a_transport_error_has_no_hint_of_its_own() -> None:
    assert TransportError("connection refused").hint is None
    assert TransportError("timed out", hint="--timeout").hint == "--timeout"

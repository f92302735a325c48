"""Pure helpers of the TUI: holders, catalogue rows, URL check, record cells, file follower."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from knoxhook import events
from knoxhook.errors import UsageError
from knoxhook.tui import model
from knoxhook.tui.sources import FileFollower, parse_line


@dataclass
class Sub:
    subscription_id: str
    url: str
    events: tuple[str, ...]
    created_at: str | None = None
    updated_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"subscriptionId": self.subscription_id, "url": self.url}


def test_holders_maps_each_event_to_its_subscription() -> None:
    subs = [
        Sub("a", "https://x", ("KG_DEVICE_LOCKED",)),
        Sub("b", "https://y", ("KC_DEVICE_STATUS_CHANGE",)),
    ]
    assert model.holders(subs) == {"KG_DEVICE_LOCKED": "a", "KC_DEVICE_STATUS_CHANGE": "b"}


def test_catalogue_rows_cover_every_event_grouped_by_service_and_mark_free() -> None:
    rows = model.catalogue_rows({"KDMS_DEVICE_UPLOAD": "123"})
    assert [r[1] for r in rows] == [e.name for s in events.SERVICES for e in events.by_service(s)]
    assert len(rows) == len(events.CATALOGUE)
    held = {r[1]: r[2] for r in rows}
    assert held["KDMS_DEVICE_UPLOAD"] == "123"
    assert held["KDMS_DEVICE_DELETE"] == "free"


@pytest.mark.parametrize("url", ["ftp://x.example/a", "hooks.example.com/knox", "https://", ""])
def test_check_url_refuses_what_knox_cannot_call_with_the_clis_message(url: str) -> None:
    with pytest.raises(UsageError, match="must be an absolute http"):
        model.check_url(url)


def test_check_url_refuses_plain_http_except_to_loopback() -> None:
    assert model.check_url("  https://h.example/k ") == "https://h.example/k"
    assert model.check_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080/"
    with pytest.raises(UsageError, match=r"refusing plain http:// to h\.example"):
        model.check_url("http://h.example/k")


def test_when_shortens_rfc3339_and_keeps_other_text() -> None:
    assert model.when("2026-11-29T10:11:12.345Z") == "2026-11-29 10:11:12"
    assert model.when(None) == "-"
    assert model.when("yesterday") == "yesterday"


def test_record_cells_and_json_show_verdict_event_nonce_and_parsed_body() -> None:
    record = {
        "received_at": "2026-11-29T10:11:12Z",
        "verdict": "ok",
        "event": "KG_DEVICE_LOCKED",
        "subscriptionId": "42",
        "nonce": "n-1",
        "body": json.dumps({"event": "KG_DEVICE_LOCKED", "payload": {"imei": "35"}}),
    }
    assert model.record_cells(record) == ("10:11:12", "ok", "KG_DEVICE_LOCKED", "42", "n-1")
    assert json.loads(model.record_json(record))["body"]["payload"] == {"imei": "35"}


def test_parse_line_never_raises_on_garbage() -> None:
    assert parse_line(b'{"verdict": "ok"}') == {"verdict": "ok"}
    bad = parse_line(b"\xffnot json")
    assert bad["verdict"] == "?"
    assert bad["reason"] == "not a JSON object"


def test_file_follower_reads_existing_then_appended_lines_and_waits_for_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "record.ndjson"
    got: list[dict[str, Any]] = []
    arrived = threading.Event()

    def emit(record: dict[str, Any]) -> None:
        got.append(record)
        if len(got) == 3:
            arrived.set()

    follower = FileFollower(path, interval=0.02)
    follower.start(emit)
    try:
        time.sleep(0.1)  # the file does not exist yet: nothing, no crash
        assert got == []
        path.write_text('{"n": 1}\n{"n": 2}\n{"n": ')  # a half-written third line
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert got == [{"n": 1}, {"n": 2}]
        with path.open("a") as fh:
            fh.write("3}\n")
        assert arrived.wait(5)
        assert got[2] == {"n": 3}
    finally:
        follower.stop()


def test_record_json_puts_verdict_and_payload_before_headers() -> None:
    record = {"headers": {"host": "x"}, "body": '{"payload": {}}', "verdict": "rejected"}
    assert list(json.loads(model.record_json(record))) == ["verdict", "body", "headers"]


def test_a_rejected_callback_shows_no_event_or_subscription_from_its_unverified_body() -> None:
    # Was: a forgery read "KG_DEVICE_ENROLLED for x" from the body it claimed to carry.
    forged = {
        "received_at": "2026-11-29T10:11:12Z",
        "verdict": "rejected",
        "reason": "bad_signature",
        "event": None,
        "subscriptionId": None,
        "nonce": "n-1",
        "body": json.dumps({"event": "KG_DEVICE_ENROLLED", "subscriptionId": "x"}),
    }
    assert model.record_cells(forged) == ("10:11:12", "rejected (bad_signature)", "-", "-", "n-1")
    # the detail pane still shows the body, as received, under its verdict
    assert json.loads(model.record_json(forged))["body"]["event"] == "KG_DEVICE_ENROLLED"

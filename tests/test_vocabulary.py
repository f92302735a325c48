"""Names defined once (issue 10.8): services, the unknown-event message, RFC 3339 text."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from knoxhook import events
from knoxhook.events import SERVICES, Service, unknown_events_message
from knoxhook.timestamps import rfc3339


def test_the_services_are_one_list_and_every_event_belongs_to_one() -> None:
    assert [s.value for s in Service] == ["KG", "KE", "KAI", "KDMS", "KC"]
    assert {s.value: s.label for s in Service} == SERVICES
    assert Service("KDMS").label == "Knox Device Management Service"
    assert {e.service for e in events.CATALOGUE} == set(SERVICES)
    assert all(e.name.startswith(e.service + "_") for e in events.CATALOGUE)


def test_the_service_option_of_knoxhook_events_is_that_list(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from knoxhook.cli.main import main

    with pytest.raises(SystemExit):
        main(["events", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for service in Service:
        assert f"{service.value} ({service.label})" in help_text


def test_one_unknown_event_names_the_closest_ones() -> None:
    assert unknown_events_message(["KG_DEVICE_LOKED"]) == (
        "unknown event 'KG_DEVICE_LOKED'; did you mean KG_DEVICE_LOCKED, KG_DEVICE_UNLOCKED, "
        "KG_DEVICE_ENROLLED?"
    )
    assert unknown_events_message(["ZZZ"]) == "unknown event 'ZZZ'"
    assert unknown_events_message(["X" * 5000]) == f"unknown event {'X' * 100!r}"


def test_several_unknown_events_are_listed_each_with_its_suggestions() -> None:
    assert unknown_events_message(["KDMS_DEVICE_UPLAOD", "ZZZ"]) == (
        "unknown events: 'KDMS_DEVICE_UPLAOD' (did you mean KDMS_DEVICE_UPLOAD, "
        "KG_DEVICE_UNLOCKED, KDMS_DEVICE_DELETE?); 'ZZZ'"
    )


def test_rfc3339_to_the_second_or_the_millisecond_in_utc() -> None:
    moment = datetime(2026, 12, 1, 21, 56, 12, 345678, tzinfo=UTC)
    assert rfc3339(moment) == "2026-12-01T21:56:12Z"
    assert rfc3339(moment, milliseconds=True) == "2026-12-01T21:56:12.345Z"
    plus_two = moment.astimezone(timezone(timedelta(hours=2)))
    assert rfc3339(plus_two) == "2026-12-01T21:56:12Z"
    assert rfc3339(moment.replace(tzinfo=None)) == "2026-12-01T21:56:12Z"  # naive: UTC
    epoch = moment.timestamp()
    assert rfc3339(epoch) == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    assert rfc3339(epoch, milliseconds=True) == "2026-12-01T21:56:12.345Z"


def test_rfc3339_writes_what_the_copies_it_replaces_wrote() -> None:
    moment = datetime(2027, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
    assert rfc3339(moment) == moment.strftime("%Y-%m-%dT%H:%M:%SZ")  # certinfo, legacy_auth
    assert rfc3339(moment, milliseconds=True) == (
        moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # emulator, receiver
    )

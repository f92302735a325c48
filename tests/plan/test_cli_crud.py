"""Idempotent single commands through the real CLI: subscribe --upsert, an update that
changes nothing, delete --all reporting every id."""

from __future__ import annotations

import json

from knoxhook.emulator.testing import EmulatorHandle
from tests.cli.conftest import Cli
from tests.plan.helpers import writes

URL = "https://hooks.example.com/knox"
LOCKED, UNLOCKED = "KG_DEVICE_LOCKED", "KG_DEVICE_UNLOCKED"
PUT = "PUT /kwn/v1/subscriptions/{subscriptionId}"


def test_subscribe_upsert_twice_succeeds_and_the_second_changes_nothing(
    cli: Cli, knox: EmulatorHandle
) -> None:
    args = ("subscribe", "--upsert", "--url", URL, "-e", LOCKED, "-e", UNLOCKED, "--json")
    first = cli(*args)
    assert first.code == 0, first.err
    assert first.json()["changed"] is True
    knox.reset_stats()
    again = cli(*args)
    assert again.code == 0, again.err
    assert again.json() == {**first.json(), "changed": False}
    assert again.err == (
        f"already subscribed {URL} to {LOCKED}, {UNLOCKED} (id {first.json()['subscriptionId']})\n"
    )
    assert writes(knox) == {}
    assert len(knox.emulator.store.all()) == 1
    plain = cli("subscribe", "--url", URL, "-e", LOCKED, "-e", UNLOCKED)
    assert plain.code == 5  # without --upsert, as before: Knox refuses the held events
    assert "EVENT_ALREADY_SUBSCRIBED" in plain.err


def test_an_update_that_changes_nothing_sends_nothing_and_says_so(
    cli: Cli, knox: EmulatorHandle
) -> None:
    sub = knox.emulator.store.create(URL, [LOCKED])
    sid = sub["subscriptionId"]
    knox.reset_stats()
    r = cli("subscriptions", "update", sid, "--add-event", LOCKED, "--url", URL, "--json")
    assert r.code == 0, r.err
    assert r.json() == {**sub, "changed": False}
    assert r.err == f"nothing to change (nothing sent) in subscription {sid}\n"
    assert writes(knox) == {}
    r = cli("subscriptions", "update", sid, "--add-event", UNLOCKED, "--json")
    assert (r.code, r.json()["changed"], r.json()["events"]) == (0, True, [LOCKED, UNLOCKED])
    assert writes(knox) == {PUT: 1}


def test_an_event_both_added_and_removed_is_a_usage_error_before_any_request(
    cli: Cli, knox: EmulatorHandle
) -> None:
    sid = knox.emulator.store.create(URL, [LOCKED])["subscriptionId"]
    knox.reset_stats()
    r = cli("subscriptions", "update", sid, "--add-event", UNLOCKED, "--remove-event", UNLOCKED)
    assert r.code == 2
    assert r.err == (
        f"Error: both added and removed: {UNLOCKED}\n"
        "Hint: give each event to --add-event or to --remove-event, not both\n"
    )
    assert knox.stats()["requests_total"] == 0


def test_delete_all_reports_every_id_when_one_is_refused(cli: Cli, knox: EmulatorHandle) -> None:
    store = knox.emulator.store
    events = (LOCKED, UNLOCKED, "KE_CAMPAIGN_DELETE")
    ids = sorted(store.create(f"{URL}/{e}", [e])["subscriptionId"] for e in events)
    knox.fault(path=f"/kwn/v1/subscriptions/{ids[1]}", method="DELETE", status=403)
    r = cli("subscriptions", "delete", "--all", "--yes", "--json")
    assert r.code == 5, r.err
    rows = r.json()
    assert [(x["subscriptionId"], x["outcome"], x["deleted"]) for x in rows] == [
        (ids[0], "deleted", True),
        (ids[1], "failed", False),
        (ids[2], "deleted", True),
    ]
    assert rows[1]["error"]["code"] == "api_refused"
    info, last = r.err.splitlines()
    assert info == "deleted 2 of 3 subscription(s)"
    error = json.loads(last)["error"]
    assert error["message"].startswith(f"{ids[1]}: Knox refused the request (403 INJECTED_FAULT)")
    assert [s["subscriptionId"] for s in store.all()] == [ids[1]]


def test_delete_all_after_a_network_failure_says_which_were_not_tried(
    cli: Cli, knox: EmulatorHandle
) -> None:
    store = knox.emulator.store
    ids = sorted(store.create(f"{URL}/{e}", [e])["subscriptionId"] for e in (LOCKED, UNLOCKED))
    knox.fault(path=f"/kwn/v1/subscriptions/{ids[0]}", method="DELETE", status=503, count=4)
    r = cli("subscriptions", "delete", "--all", "--yes", "--json")
    assert r.code == 7
    assert [(x["outcome"]) for x in r.json()] == ["failed", "skipped"]
    assert json.loads(r.err.splitlines()[-1])["error"]["code"] == "network_error"
    assert len(store.all()) == 2
    knox.clear_faults()
    r = cli("subscriptions", "delete", "--all", "--yes")  # a table, and nothing went wrong
    assert r.code == 0
    assert r.err == "deleted 2 subscription(s)\n"
    assert "deleted" in r.out

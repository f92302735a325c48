"""Output shaping on data commands (issue 9 item 1): --jq, --fields, -o tsv, list filters,
conflicting format options (defect 8) and URL passwords (defect 9, display side)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from knoxhook.cli import tables
from tests.cli.conftest import Cli

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle


def _subscribe(cli: Cli, url: str, *events: str) -> dict[str, Any]:
    args = [a for e in events for a in ("-e", e)]
    r = cli("subscribe", "--url", url, *args, "--json")
    assert r.code == 0, r.err
    sub: dict[str, Any] = r.json()
    return sub


def test_jq_prints_strings_raw_and_other_values_as_compact_json(
    knox: EmulatorHandle, cli: Cli
) -> None:
    a = _subscribe(cli, "https://a.example/k", "KG_DEVICE_LOCKED", "KG_DEVICE_UNLOCKED")
    b = _subscribe(cli, "https://b.example/k", "KDMS_DEVICE_UPLOAD")
    r = cli("subscriptions", "list", "--jq", ".[].subscriptionId")
    assert (r.code, r.out) == (0, f"{a['subscriptionId']}\n{b['subscriptionId']}\n")
    r = cli("subscriptions", "list", "--jq", ".[0].events, (.|length), .[1].url")
    assert r.out == '["KG_DEVICE_LOCKED","KG_DEVICE_UNLOCKED"]\n2\nhttps://b.example/k\n'
    r = cli("subscriptions", "get", b["subscriptionId"], "--jq", "{url}")
    assert r.out == '{"url":"https://b.example/k"}\n'
    r = cli("events", "--jq", '.[] | select(.service == "KC") | .name')
    assert r.out == "KC_DEVICE_STATUS_CHANGE\n"


def test_a_bad_jq_expression_is_exit_2_with_jqs_message_before_any_request(
    knox: EmulatorHandle, cli: Cli
) -> None:
    before = knox.stats()["requests_total"]
    r = cli("subscribe", "--url", "https://a.example/k", "-e", "KG_DEVICE_LOCKED", "--jq", ".[")
    assert r.code == 2
    assert r.out == ""
    error = r.error()  # --jq implies JSON, errors included
    assert error["message"] == (
        "--jq: syntax error, unexpected end of file at <top-level>, line 1, column 2"
    )
    assert knox.stats()["requests_total"] == before  # nothing was created
    r = cli("subscriptions", "list", "--jq", ".x")  # fails while it runs
    assert r.code == 2
    assert r.out == ""
    assert r.error()["message"] == '--jq: Cannot index array with string ("x")'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["events", "--json", "-o", "yaml"], "--json and --output yaml conflict"),
        (["--json", "-o", "ndjson", "events"], "--json and --output ndjson conflict"),
        (["-o", "yaml", "events", "--json"],
         "--output yaml (before the command) and --output json conflict"),
        (["events", "--jq", ".", "-o", "tsv"], "--jq and --output tsv conflict"),
        (["listen", "-o", "yaml"], "--output yaml is not available here"),
        (["listen", "-o", "tsv"], "--output tsv is not available here"),
        (["listen", "--json", "--jq", "."], "--jq is not available here"),
        (["listen", "--fields", "verdict"], "--fields is not available here"),
        (["demo", "-o", "tsv"], "--output tsv is not available here"),
    ],
)  # fmt: skip
def test_conflicting_or_unsupported_format_options_are_usage_errors(
    cli: Cli, args: list[str], message: str
) -> None:
    r = cli(*args)
    assert r.code == 2
    assert r.out == ""
    # one line: the JSON error object when JSON won the guess, else "Error: ..."
    first = r.err.splitlines()[0]
    assert first == f"Error: {message}" or json.loads(first)["error"]["message"] == message


def test_fields_select_keys_in_json_and_columns_in_tsv_and_tables(
    knox: EmulatorHandle, cli: Cli
) -> None:
    a = _subscribe(cli, "https://a.example/k", "KG_DEVICE_LOCKED")
    r = cli("subscriptions", "list", "--fields", "url,subscriptionId", "--json")
    assert r.json() == [{"url": "https://a.example/k", "subscriptionId": a["subscriptionId"]}]
    r = cli("subscriptions", "list", "--fields", "url,subscriptionId")
    assert r.out == f"url\tsubscriptionId\nhttps://a.example/k\t{a['subscriptionId']}\n"
    r = cli("subscriptions", "list", "--fields", "events", "-o", "table")
    assert "Events" in r.out
    assert "KG_DEVICE_LOCKED" in r.out
    assert "URL" not in r.out
    r = cli("subscriptions", "get", a["subscriptionId"], "--fields", "url", "-o", "yaml")
    assert r.out == "url: https://a.example/k\n"
    r = cli("events", "--fields", "name", "--jq", ".[0]")
    assert r.out == '{"name":"KG_DEVICE_ENROLLED"}\n'


def test_an_unknown_field_is_a_usage_error_listing_the_valid_ones(
    knox: EmulatorHandle, cli: Cli
) -> None:
    _subscribe(cli, "https://a.example/k", "KG_DEVICE_LOCKED")
    r = cli("subscriptions", "list", "--fields", "id,url")
    assert r.code == 2
    assert r.out == ""
    assert r.err == (
        "Error: unknown field for --fields: id\n"
        "Hint: valid fields: subscriptionId, url, events, createdAt, updatedAt\n"
    )
    r = cli("events", "--fields", "nom", "--json")
    assert r.code == 2
    assert r.error()["hint"] == "valid fields: name, service, since, description, service_name"


def test_an_unknown_field_on_a_command_that_changes_something_is_refused_before_it(
    knox: EmulatorHandle, cli: Cli
) -> None:
    before = knox.stats()["requests_total"]
    r = cli("subscribe", "--url", "https://a.example/k", "-e", "KG_DEVICE_LOCKED",
            "--fields", "id")  # fmt: skip
    assert (r.code, r.out) == (2, "")
    assert r.err == (
        "Error: unknown field for --fields: id\n"
        "Hint: valid fields: subscriptionId, url, events, createdAt, updatedAt, changed\n"
    )
    r = cli("subscriptions", "delete", "x", "--yes", "--fields", "gone")
    assert r.code == 2
    assert "valid fields: subscriptionId, deleted, outcome" in r.err
    r = cli("subscriptions", "update", "x", "-e", "KG_DEVICE_LOCKED", "--fields", "nope")
    assert r.code == 2
    assert knox.stats()["requests_total"] == before  # nothing was created or changed
    sub = _subscribe(cli, "https://a.example/k", "KG_DEVICE_LOCKED")  # the event is free
    r = cli("subscriptions", "delete", sub["subscriptionId"], "--yes", "--fields", "outcome")
    assert (r.code, r.out) == (0, "outcome\ndeleted\n")


def test_tsv_escapes_tabs_newlines_and_backslashes_and_keeps_one_line_per_row() -> None:
    rows = [{"a": "x\ty\nz\\", "b": None, "c": ["P", "Q"], "d": True, "e": {"k": 1}}]
    assert tables.tsv(rows, None) == 'a\tb\tc\td\te\nx\\ty\\nz\\\\\t\tP,Q\ttrue\t{"k":1}\n'
    assert tables.tsv({"url": "u", "n": 2}, None) == "url\tu\nn\t2\n"


def test_a_piped_table_is_tsv_that_cut_can_read(knox: EmulatorHandle, cli: Cli) -> None:
    a = _subscribe(cli, "https://a.example/k", "KG_DEVICE_LOCKED", "KG_DEVICE_UNLOCKED")
    r = cli("subscriptions", "list")
    header, row = r.out.splitlines()
    assert header.split("\t")[:3] == ["subscriptionId", "url", "events"]
    assert row.split("\t")[:3] == [
        a["subscriptionId"],
        a["url"],
        "KG_DEVICE_LOCKED,KG_DEVICE_UNLOCKED",
    ]
    r = cli("subscriptions", "get", a["subscriptionId"])
    assert f"subscriptionId\t{a['subscriptionId']}\n" in r.out
    assert "url\thttps://a.example/k\n" in r.out


def test_list_filters_by_event_and_by_url_substring_or_glob(knox: EmulatorHandle, cli: Cli) -> None:
    a = _subscribe(cli, "https://hooks.example.com/kg", "KG_DEVICE_LOCKED")
    b = _subscribe(cli, "https://other.example.org/kdms", "KDMS_DEVICE_UPLOAD")
    c = _subscribe(cli, "https://hooks.example.com/kc", "KC_DEVICE_STATUS_CHANGE")

    def ids(*args: str) -> list[str]:
        r = cli("subscriptions", "list", *args, "--jq", ".[].subscriptionId")
        assert r.code == 0, r.err
        return r.out.split()

    assert ids("--event", "KDMS_DEVICE_UPLOAD") == [b["subscriptionId"]]
    assert ids("-e", "kg_device_locked", "-e", "KC_DEVICE_STATUS_CHANGE") == [
        a["subscriptionId"], c["subscriptionId"]]  # fmt: skip
    assert ids("--url", "hooks.example.com") == [a["subscriptionId"], c["subscriptionId"]]
    assert ids("--url", "https://*.org/*") == [b["subscriptionId"]]
    assert ids("--url", "*/k?") == [a["subscriptionId"], c["subscriptionId"]]
    assert ids("--url", "example.com", "--event", "KC_DEVICE_STATUS_CHANGE") == [
        c["subscriptionId"]
    ]
    assert ids("--url", "nowhere") == []
    before = knox.stats()["requests_total"]
    r = cli("subscriptions", "list", "--event", "KG_DEVICE_LOCKD")
    assert r.code == 2
    assert "KG_DEVICE_LOCKED" in r.err  # did you mean
    assert knox.stats()["requests_total"] == before


def test_a_url_password_is_redacted_in_tables_and_tsv_unless_asked_for(
    knox: EmulatorHandle, cli: Cli
) -> None:
    url = "https://hook:s3cr3t-pw@hooks.example.com/knox"
    r = cli("subscribe", "--url", url, "-e", "KG_DEVICE_LOCKED")
    assert r.code == 0
    assert "s3cr3t-pw" not in r.err + r.out  # the "subscribed ..." line and the table
    assert "https://hook:***@hooks.example.com/knox" in r.err
    sid = cli("subscriptions", "list", "--jq", ".[0].subscriptionId").out.strip()
    for args in (["list"], ["list", "-o", "table"], ["get", sid], ["get", sid, "-o", "table"]):
        r = cli("subscriptions", *args)
        assert r.code == 0
        assert "s3cr3t-pw" not in r.out, args
        assert "hook:***@hooks.example.com" in r.out, args
    # asked for: --show-secrets, or the API's own JSON (also through --jq, and YAML)
    assert url in cli("subscriptions", "list", "--show-secrets").out
    assert cli("subscriptions", "list", "--json").json()[0]["url"] == url
    assert cli("subscriptions", "get", sid, "--jq", ".url").out == url + "\n"
    assert url in cli("subscriptions", "get", sid, "-o", "yaml").out


def test_key_value_tables_have_no_trailing_spaces(knox: EmulatorHandle, cli: Cli) -> None:
    a = _subscribe(cli, "https://a.example/a-much-longer-path/k", "KG_DEVICE_LOCKED")
    r = cli("subscriptions", "get", a["subscriptionId"], "-o", "table")
    assert r.code == 0
    lines = r.out.splitlines()
    assert len(lines) == 5
    assert [line for line in lines if line != line.rstrip()] == []
    assert lines[0].split() == ["subscriptionId", a["subscriptionId"]]
    r = cli("-o", "table", "events", "-s", "KC")  # and the boxed tables
    assert [line for line in r.out.splitlines() if line != line.rstrip()] == []


def test_the_shaping_options_exist_exactly_on_the_commands_that_print_data(cli: Cli) -> None:
    for command in (["events"], ["subscriptions", "list"], ["auth", "status"], ["cert", "show"]):
        r = cli(*command, "--help")
        assert r.code == 0
        assert all(flag in r.out for flag in ("--jq EXPR", "--fields", "--show-secrets")), command
    r = cli("verify", "--body", "-", "--jq", ".")  # verify has --json: shaped too
    assert "No such option" not in r.err
    r = cli("emulator", "run", "--jq", ".")  # no --json: no shaping options
    assert r.code == 2
    assert "No such option: --jq" in r.err


def test_json_output_of_non_ascii_data_is_valid_json(knox: EmulatorHandle, cli: Cli) -> None:
    sub = _subscribe(cli, "https://hooks.example.com/caf\u00e9", "KG_DEVICE_LOCKED")
    assert json.loads(cli("subscriptions", "list", "--json").out)[0]["url"] == sub["url"]

"""knoxhook.yaml: parsed and checked before any request; errors name file, line, entry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from knoxhook.ascode import desired
from knoxhook.errors import UsageError

SIMPLEST = """\
subscriptions:
  devices:                       # a local name; KWN has no name field
    url: https://hooks.example.com/knox/devices
    events: [KDMS_DEVICE_UPLOAD, KDMS_DEVICE_DELETE]
"""


def test_the_simplest_form_of_the_issue_reads(write_file: Callable[[str], Path]) -> None:
    state = desired.load(write_file(SIMPLEST), env={})
    assert state.profile is None
    assert state.tenant is None
    assert state.subscriptions == (
        desired.DesiredSubscription(
            "devices",
            "https://hooks.example.com/knox/devices",
            ("KDMS_DEVICE_UPLOAD", "KDMS_DEVICE_DELETE"),
            allow_http=False,
            line=2,
        ),
    )


def test_optional_keys_env_expansion_and_one_event_as_a_string(
    write_file: Callable[[str], Path],
) -> None:
    path = write_file(
        "version: 1\nprofile: prod\ntenant: 12345\nsubscriptions:\n"
        "  kg:\n    url: https://${HOOK_HOST}/knox/${HOOK_PATH}\n    events: kg_device_locked\n"
        "  local:\n    url: http://10.0.0.5:8000/cb\n    allow_http: true\n"
        "    events: [KE_CAMPAIGN_DELETE]\n"
    )
    state = desired.load(path, env={"HOOK_HOST": "hooks.example.com", "HOOK_PATH": "kg"})
    assert (state.profile, state.tenant) == ("prod", "12345")
    kg, local = state.subscriptions
    assert (kg.url, kg.events) == ("https://hooks.example.com/knox/kg", ("KG_DEVICE_LOCKED",))
    assert (local.allow_http, local.url) == (True, "http://10.0.0.5:8000/cb")


def test_an_empty_subscriptions_mapping_means_none(write_file: Callable[[str], Path]) -> None:
    assert desired.load(write_file("subscriptions:\n"), env={}).subscriptions == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "subscriptions:\n  a:\n    url: https://a.example/k\n"
            "    events:\n      - KG_DEVICE_LOCKED\n      - KDMS_DEVICE_UPLAOD\n",
            ":6: subscription 'a': unknown event 'KDMS_DEVICE_UPLAOD'"
            "; did you mean KDMS_DEVICE_UPLOAD",
        ),
        (
            "subscriptions:\n  a:\n    url: https://a.example/k\n    events: [KG_DEVICE_LOCKED]\n"
            "  b:\n    url: https://b.example/k\n    events: [KG_DEVICE_LOCKED]\n",
            ":5: subscription 'b': event KG_DEVICE_LOCKED is also in 'a'",
        ),
        (
            "subscriptions:\n  a:\n    url: http://hooks.example.com/k\n"
            "    events: [KG_DEVICE_LOCKED]\n",
            ":3: subscription 'a': refusing plain http:// to hooks.example.com",
        ),
        (
            "subscriptions:\n  a:\n    url: https://${NOPE_UNSET}/k\n"
            "    events: [KG_DEVICE_LOCKED]\n",
            ":3: subscription 'a': url uses ${NOPE_UNSET}, which is not set",
        ),
        (
            "subscriptions:\n  a:\n    url: https://a.example/k\n    event: [KG_DEVICE_LOCKED]\n",
            ":4: subscription 'a': unknown key 'event'",
        ),
        (
            "subscriptions:\n  a:\n    url: https://a.example/k\n",
            ":3: subscription 'a': no 'events'",
        ),
        (
            "subscriptions:\n  a:\n    url: https://a.example/k\n    events: [KG_DEVICE_LOCKED]\n"
            "  a:\n    url: https://b.example/k\n    events: [KE_CAMPAIGN_DELETE]\n",
            ":5: subscriptions: 'a' is given twice",
        ),
        ("version: 2\nsubscriptions: {}\n", ":1: unsupported version"),
        ("subscriptions: [a, b]\n", ":1: subscriptions must be a mapping"),
        (
            "subscriptions:\n  a: {url: [x], events: [KG_DEVICE_LOCKED]}\n",
            ":2: subscription 'a': url must",
        ),
        ("subscriptions:\n  a b:\n    url: https://a.example/k\n", ":2: subscription name 'a b'"),
        (
            "subscriptions:\n  a:\n    url: https://a.example/k\n    events: []\n",
            ":4: subscription 'a': give at least one event",
        ),
        ("subscriptions:\n  a: {\n", ": not valid YAML"),
        ("", ":1: the file is empty"),
        ("subscription:\n  a: {}\n", ":1: the file: unknown key 'subscription'"),
    ],
)
def test_errors_name_the_file_the_line_and_the_entry(
    write_file: Callable[[str], Path], text: str, message: str
) -> None:
    path = write_file(text)
    with pytest.raises(UsageError) as exc:
        desired.load(path, env={})
    assert exc.value.message.startswith(f"{path}:")
    assert message in exc.value.message
    assert "\n" not in exc.value.message


def test_a_typo_reuses_the_catalogue_hint(write_file: Callable[[str], Path]) -> None:
    path = write_file("subscriptions:\n  a:\n    url: https://a.example/k\n    events: KG_LOCKED\n")
    with pytest.raises(UsageError) as exc:
        desired.load(path, env={})
    assert exc.value.hint == "run `knoxhook events` to list the event catalogue"


def test_a_missing_file_says_how_to_start(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no desired-state file at") as exc:
        desired.load(tmp_path / "knoxhook.yaml")
    assert "knoxhook plan --generate" in (exc.value.hint or "")


def test_a_file_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "knoxhook.yaml"
    path.write_bytes(b"subscriptions:\n  \xff: {}\n")
    with pytest.raises(UsageError, match=f"cannot read {path}"):
        desired.load(path)

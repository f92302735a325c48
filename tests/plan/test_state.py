"""The state file: beside the desired-state file, 0600, atomic, refused when unusable."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from knoxhook.ascode import state
from knoxhook.errors import KnoxhookError, UsageError


def test_the_state_file_sits_beside_the_desired_state_file(tmp_path: Path) -> None:
    assert state.path_for(tmp_path / "prod.yaml") == tmp_path / "prod.state.json"


def test_a_missing_state_file_is_an_empty_state(tmp_path: Path) -> None:
    assert state.load(tmp_path / "knoxhook.state.json").records == {}


def test_each_record_is_written_at_once_0600_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "knoxhook.state.json"
    current = state.load(path)
    current.record(
        "kg",
        "63689d7e4ee2721f7b50d2b1",
        "https://a.example/k",
        ("KG_DEVICE_UNLOCKED", "KG_DEVICE_LOCKED"),
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {
        "version": 1,
        "subscriptions": {
            "kg": {
                "subscriptionId": "63689d7e4ee2721f7b50d2b1",
                "url": "https://a.example/k",
                "events": ["KG_DEVICE_LOCKED", "KG_DEVICE_UNLOCKED"],
            }
        },
    }
    assert state.load(path).records == current.records
    current.forget("kg")
    assert json.loads(path.read_text())["subscriptions"] == {}
    assert [p.name for p in tmp_path.iterdir()] == ["knoxhook.state.json"]  # no temp files left


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{", "not JSON (Expecting property name enclosed in double quotes: line 1 column 2"),
        ('{"version": 2, "subscriptions": {}}', "not a version 1 knoxhook state file"),
        ('{"version": 1, "subscriptions": []}', "'subscriptions' is not an object"),
        (
            '{"version": 1, "subscriptions": {"a": {"url": "u", "events": []}}}',
            "'a' has no subscriptionId",
        ),
        (
            '{"version": 1, "subscriptions": {"a": {"subscriptionId": "1", "url": "u", '
            '"events": []}, "b": {"subscriptionId": "1", "url": "u", "events": []}}}',
            "'b' and 'a' record the same id",
        ),
    ],
)
def test_an_unusable_state_file_is_a_usage_error_naming_it(
    tmp_path: Path, text: str, why: str
) -> None:
    path = tmp_path / "knoxhook.state.json"
    path.write_text(text)
    with pytest.raises(UsageError) as exc:
        state.load(path)
    assert exc.value.message.startswith(f"the state file {path} is unusable: {why}")
    assert exc.value.hint == "fix or delete it (subscriptions are then matched by URL again)"


def test_a_state_file_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    current = state.State(tmp_path / "a-file" / "knoxhook.state.json")
    with pytest.raises(UsageError) as exc:
        current.record("a", "1", "https://a.example/k", ("KG_DEVICE_LOCKED",))
    assert exc.value.message == (f"cannot write the state file {current.path}: Not a directory")
    assert exc.value.hint == "check the directory, or give another place with --state"


def test_one_apply_at_a_time_holds_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / "knoxhook.state.json"
    held = pytest.raises(KnoxhookError, match=f"timed out waiting for the lock on {path}")
    with state.locked(path), held, state.locked(path, timeout=0.05):
        pass
    with state.locked(path, timeout=0.05):
        pass
    assert stat.S_IMODE((tmp_path / ".knoxhook.state.json.lock").stat().st_mode) == 0o600

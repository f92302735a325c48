"""`knoxhook events`: the catalogue, filtered by service, in every output format."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from knoxhook import events as catalogue
from knoxhook.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), out, err


def test_events_json_is_the_whole_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "events", "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert len(data) == len(catalogue.CATALOGUE) == 25
    assert data[0] == {
        "name": "KG_DEVICE_ENROLLED",
        "service": "KG",
        "service_name": "Knox Guard",
        "description": "A device finished enrolling in Knox Guard.",
        "since": "23.03",
    }
    assert {row["name"] for row in data} == catalogue.EVENT_NAMES


@pytest.mark.parametrize(
    ("service", "count"), [("KG", 4), ("KE", 6), ("kai", 12), ("KDMS", 2), ("KC", 1)]
)
def test_events_filtered_by_service(
    capsys: pytest.CaptureFixture[str], service: str, count: int
) -> None:
    code, out, _ = run(capsys, "events", "--service", service, "-o", "ndjson")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == count
    assert {r["service"] for r in rows} == {service.upper()}


def test_events_table_and_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "events", "-s", "KDMS")
    assert code == 0
    assert "KDMS_DEVICE_UPLOAD" in out
    assert "Event" in out
    assert "KG_DEVICE_LOCKED" not in out
    code, out, _ = run(capsys, "--output", "yaml", "events", "-s", "KC")
    assert code == 0
    assert yaml.safe_load(out)[0]["name"] == "KC_DEVICE_STATUS_CHANGE"


def test_unknown_service_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "events", "--service", "KX")
    assert code == 2
    assert out == ""
    assert "Invalid value for '--service'" in err


def test_events_needs_no_configuration_as_a_process() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "knoxhook", "events", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 25

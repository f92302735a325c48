"""`knoxhook events`: the catalogue, filtered by service, in every output format."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from knoxhook import events as catalogue
from tests.cli.conftest import Cli


def test_events_json_is_the_whole_catalogue(cli: Cli) -> None:
    r = cli("events", "--json")
    assert (r.code, r.err) == (0, "")
    data = r.json()
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
def test_events_filtered_by_service(cli: Cli, service: str, count: int) -> None:
    r = cli("events", "--service", service, "-o", "ndjson")
    assert r.code == 0
    rows = [json.loads(line) for line in r.out.splitlines()]
    assert len(rows) == count
    assert {r["service"] for r in rows} == {service.upper()}


def test_events_table_and_yaml(cli: Cli) -> None:
    r = cli("events", "-s", "KDMS", "-o", "table")  # asked for: a table even on a pipe
    assert r.code == 0
    assert "KDMS_DEVICE_UPLOAD" in r.out
    assert "Event" in r.out
    assert "KG_DEVICE_LOCKED" not in r.out
    piped = cli("events", "-s", "KDMS")  # not asked for, stdout not a terminal: tsv
    assert piped.code == 0
    lines = piped.out.splitlines()
    assert lines[0] == "name\tservice\tsince\tdescription"
    assert lines[1].split("\t")[:3] == ["KDMS_DEVICE_UPLOAD", "KDMS", "24.06"]
    r = cli("--output", "yaml", "events", "-s", "KC")
    assert r.code == 0
    assert yaml.safe_load(r.out)[0]["name"] == "KC_DEVICE_STATUS_CHANGE"


def test_unknown_service_exits_2(cli: Cli) -> None:
    r = cli("events", "--service", "KX")
    assert r.code == 2
    assert r.out == ""
    assert "Invalid value for '--service'" in r.err


def test_events_needs_no_configuration_as_a_process() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "knoxhook", "events", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 25

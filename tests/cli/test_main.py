"""The root command: help, version, usage errors and the error boundary."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from knoxhook import __version__
from knoxhook.cli.main import main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "knoxhook", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version_prints_version_and_exits_0() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"knoxhook {__version__}"


def test_help_lists_exit_codes() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "Exit codes: 0 ok" in result.stdout
    assert "8 verification failed" in result.stdout


def test_unknown_option_is_usage_error_exit_2_without_traceback() -> None:
    result = run("--no-such-flag")
    assert result.returncode == 2
    assert "No such option: --no-such-flag" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_error_with_json_is_a_json_error_object(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--json", "--no-such-flag"])
    assert exc.value.code == 2
    err = json.loads(capsys.readouterr().err)
    assert err["error"]["code"] == "usage_error"
    assert "--no-such-flag" in err["error"]["message"]


def test_a_run_without_verbose_after_one_with_it_puts_the_log_level_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `listen`'s log handler takes the knoxhook logger's level (serving._log_to): a
    # verbose run earlier in the same process must not make a later one verbose
    logger = logging.getLogger("knoxhook")
    for args, level in ((["-v", "events", "--json"], logging.INFO), (["events", "--json"], 0)):
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 0, capsys.readouterr().err
        assert json.loads(capsys.readouterr().out)
        assert logger.level == level

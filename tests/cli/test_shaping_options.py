"""The shaping options (--jq, --fields, --show-secrets) come alone: building them must
not bring typer's --install-completion/--show-completion onto every data command."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("option", ["--install-completion", "--show-completion"])
def test_a_data_command_has_no_completion_installer(option: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "knoxhook", "subscriptions", "list", option],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert f"No such option: {option}" in result.stderr

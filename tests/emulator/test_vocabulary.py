"""One emulator vocabulary: signing modes, certificate actions and the delivery policy
are defined once (``knoxhook.emulator``) and every entry point uses those names and
defaults (issue 10.8)."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import textwrap

import pytest

from knoxhook.cli import emulator as cli_emulator
from knoxhook.emulator import (
    CERT_ACTIONS,
    DELIVERY_BACKOFF,
    DELIVERY_RETRIES,
    DELIVERY_TIMEOUT,
    SIGNING_MODES,
    CertAction,
)
from knoxhook.emulator.config import EmulatorConfig
from knoxhook.emulator.testing import running_emulator
from tests.cli.conftest import run


def _choices(capsys: pytest.CaptureFixture[str], option: str, *command: str) -> tuple[str, ...]:
    """The choices ``--help`` of ``command`` shows for ``option`` (``<a|b|c>``)."""
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    found = re.search(rf"{option} <([^>]+)>", out)
    assert found, out
    return tuple(found.group(1).split("|"))


@pytest.mark.parametrize("command", [("emulator", "run"), ("demo",), ("trigger",)])
def test_every_entry_point_offers_the_same_signing_modes(
    capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    assert _choices(capsys, "--signing", *command) == SIGNING_MODES


def test_cert_state_offers_the_certificate_actions(capsys: pytest.CaptureFixture[str]) -> None:
    assert _choices(capsys, "--cert-state", "emulator", "run") == CERT_ACTIONS


def test_the_delivery_policy_has_one_default_for_every_entry_point() -> None:
    config = EmulatorConfig()
    assert (config.delivery_timeout, config.delivery_retries, config.delivery_backoff) == (
        DELIVERY_TIMEOUT,
        DELIVERY_RETRIES,
        DELIVERY_BACKOFF,
    )
    helper = inspect.signature(running_emulator).parameters
    cli = inspect.signature(cli_emulator.run).parameters
    for name, value in (
        ("delivery_timeout", DELIVERY_TIMEOUT),
        ("delivery_retries", DELIVERY_RETRIES),
        ("delivery_backoff", DELIVERY_BACKOFF),
    ):
        assert helper[name].default == value, name
        assert cli[name].default == value, name


def test_the_old_expire_spelling_is_the_expired_action() -> None:
    assert CertAction("expire") is CertAction.EXPIRED
    assert EmulatorConfig(cert_state="expire").cert_state is CertAction.EXPIRED


def test_demo_does_not_import_the_test_helpers() -> None:
    """``knoxhook.emulator.testing`` raises AssertionError-style failures for tests;
    the demo must run on the product modules alone."""
    script = textwrap.dedent(
        """
        import sys
        from knoxhook.demo import run_demo
        steps = [step.name for step in run_demo()]
        print(steps[-1], "knoxhook.emulator.testing" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["delete", "False"]

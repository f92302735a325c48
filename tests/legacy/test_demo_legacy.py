"""``knoxhook demo --auth legacy``: the ten steps with Knox Guard's authentication, on the
emulator's demo legacy client, touching neither the user's config nor the keyring."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.cli.conftest import Cli
    from tests.fakes import MemoryKeyring


def test_demo_auth_legacy_walks_the_same_steps(
    cli: Cli, memory_keyring: MemoryKeyring, isolated_env: Path
) -> None:
    r = cli("demo", "--auth", "legacy", "--json")
    assert r.code == 0, r.err
    steps = {s["step"]: s for s in r.json()["steps"]}
    assert list(steps) == [
        "emulator", "certificate", "token", "listen", "subscribe", "trigger",
        "callback", "replay", "list", "delete",
    ]  # fmt: skip
    token = steps["token"]
    assert token["token_url"].endswith("/ams/v1/users/accesstoken")
    assert token["kwn_prefix"] == "/kcs/kwn/v0.1"
    assert token["cache_mode"] == "0o600"
    assert steps["subscribe"]["events"] == ["KG_DEVICE_LOCKED"]
    assert steps["callback"]["event"] == "KG_DEVICE_LOCKED"
    assert memory_keyring.store == {}
    assert not isolated_env.exists() or not any(isolated_env.rglob("*.json"))


def test_demo_auth_must_be_oauth_or_legacy(cli: Cli) -> None:
    r = cli("demo", "--auth", "saml")
    assert r.code == 2
    assert "--auth must be oauth or legacy, not 'saml'" in r.err

"""``knoxhook emulator run`` registers legacy clients: the demo one by default (its keys'
path printed), or ``--legacy-client IDENTIFIER:KEYS.json``; a bad spec is exit 2."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2

from knoxhook import wire
from knoxhook.legacy import DEMO_IDENTIFIER, DEMO_KEYS_PATH, jwt
from knoxhook.legacy.keys import LegacyKeys, load_keys
from tests.cli.test_emulator_cli import emulator_process
from tests.legacy.conftest import IDENTIFIER

if TYPE_CHECKING:
    from tests.cli.conftest import Cli


def _accesstoken(url: str, keys: LegacyKeys, identifier: str) -> int:
    body = {
        wire.F_LEGACY_PUBLIC_KEY: keys.public_key_b64,
        wire.F_LEGACY_CLIENT_IDENTIFIER_JWT: jwt.sign_client_identifier(keys, identifier),
    }
    return httpx2.post(url + wire.LEGACY_ACCESS_TOKEN_PATH, json=body, timeout=10).status_code


def test_the_demo_legacy_client_is_registered_and_its_keys_path_printed() -> None:
    with emulator_process() as emu:
        assert _accesstoken(emu.url, load_keys(DEMO_KEYS_PATH), DEMO_IDENTIFIER) == 200
        code, err = emu.stop(signal.SIGINT)
    assert code == 0
    assert f"legacy demo client {DEMO_IDENTIFIER}, keys {DEMO_KEYS_PATH}" in err


def test_legacy_client_registers_a_pair_instead_of_the_demo(keys_file: Callable[..., Path]) -> None:
    path = keys_file()
    with emulator_process("--legacy-client", f"{IDENTIFIER}:{path}") as emu:
        assert _accesstoken(emu.url, load_keys(path), IDENTIFIER) == 200
        assert _accesstoken(emu.url, load_keys(DEMO_KEYS_PATH), DEMO_IDENTIFIER) == 401
        code, err = emu.stop(signal.SIGINT)
    assert code == 0
    assert "legacy clients: 1" in err
    assert IDENTIFIER not in err


def test_a_bad_legacy_client_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "keys.json"
    broken.write_text(json.dumps({"Public": "nope"}))
    for spec, message in (
        ("no-colon", "bad --legacy-client: expected IDENTIFIER:KEYS.json"),
        (f"secret-id:{broken}", "field 'Public' is not an RSA public key"),
    ):
        r = cli("emulator", "run", "--port", "0", "--legacy-client", spec)
        assert r.code == 2, r.err
        assert message in r.err
        assert "secret-id" not in r.err

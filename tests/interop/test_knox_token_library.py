"""Conformance with Samsung's own signing library, ``knox-token-library-js@1.0.22`` (npm).

The library is installed with npm into a cache dir (``$KNOXHOOK_NPM_CACHE``, default
``~/.cache/knoxhook-tests/npm``) once. For keys.json files this test generates, in each
encoding the portal may use, it checks that:

- the emulator accepts the library's Client Identifier JWT (``POST
  /ams/v1/users/accesstoken``) and its signed access token (``x-knox-apitoken`` on KWN);
- knoxhook's JWTs have the library's header bytes, claim names, claim order and formats,
  and the library's ``jsonwebtoken`` verifies them (RS512, audience KnoxWSM) with the same
  public key, as knoxhook verifies the library's;
- ``generateBase64EncodedStringPublicKey`` equals knoxhook's wire public key.

Without node/npm (or when npm cannot install) it skips locally and FAILS in CI
(``tests/external.py``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

from knoxhook import wire
from knoxhook.emulator import legacy
from knoxhook.legacy import jwt
from knoxhook.legacy.keys import load_keys
from tests.external import missing, require_program
from tests.legacy.conftest import FORMATS, IDENTIFIER, keys_document, rsa_key, spki_b64

if TYPE_CHECKING:
    from collections.abc import Iterator

    from knoxhook.emulator.testing import EmulatorHandle

PACKAGE = "knox-token-library-js"
VERSION = "1.0.22"
UUID1 = r"[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"

# Reads {"keys", "identifier", "accessToken", "verify": [jwt, ...]} on stdin (nothing
# on argv); prints what the library makes and what jsonwebtoken says of our JWTs.
SCRIPT = r"""
const path = require('path');
const dir = process.env.KNOX_LIB_DIR;
const lib = require(path.join(dir, 'node_modules', 'knox-token-library-js'));
const jsonwebtoken = require(path.join(dir, 'node_modules', 'jsonwebtoken'));
const rsaKey = require(path.join(dir, 'node_modules', 'rsa-key'));
const fs = require('fs');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const cert = JSON.parse(fs.readFileSync(input.keys, 'utf8'));
const publicPem = new rsaKey(cert.Public).exportKey('public', 'pem');
const verified = input.verify.map((token) => {
  try {
    return jsonwebtoken.verify(token, publicPem, {algorithms: ['RS512'], audience: 'KnoxWSM'});
  } catch (e) { return {error: String(e.message)}; }
});
process.stdout.write(JSON.stringify({
  clientIdentifierJwt: lib.generateSignedClientIdentifierJWT(input.keys, input.identifier),
  accessTokenJwt: lib.generateSignedAccessTokenJWT(input.keys, input.accessToken),
  publicKey: lib.generateBase64EncodedStringPublicKey(input.keys),
  verified: verified,
}));
"""


def _installed(directory: Path) -> bool:
    manifest = directory / "node_modules" / PACKAGE / "package.json"
    try:
        return bool(json.loads(manifest.read_text())["version"] == VERSION)
    except (OSError, ValueError, KeyError):
        return False


@pytest.fixture(scope="module")
def library() -> Path:
    """The directory holding node_modules/knox-token-library-js@1.0.22."""
    require_program("node", install="apt-get install nodejs, or use nodejs.org")
    npm = require_program("npm", install="apt-get install npm")
    default = Path.home() / ".cache" / "knoxhook-tests" / "npm"
    directory = Path(os.environ.get("KNOXHOOK_NPM_CACHE") or default)
    directory.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(directory / ".install.lock", timeout=300):
        if not _installed(directory):
            command = [npm, "install", "--prefix", str(directory), "--no-audit", "--no-fund",
                       "--save-exact", f"{PACKAGE}@{VERSION}"]  # fmt: skip
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=300)
            except subprocess.TimeoutExpired:
                missing(f"npm install {PACKAGE}@{VERSION} timed out (is the registry reachable?)")
            if done.returncode != 0 or not _installed(directory):
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                missing(f"npm install {PACKAGE}@{VERSION} failed: {' | '.join(tail)}")
    return directory


def _node(library: Path, keys: Path, access_token: str, verify: list[str]) -> dict[str, Any]:
    document = {"keys": str(keys), "identifier": IDENTIFIER, "accessToken": access_token,
                "verify": verify}  # fmt: skip
    done = subprocess.run(
        ["node", "-e", SCRIPT],
        input=json.dumps(document),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KNOX_LIB_DIR": str(library)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _parts(token: str) -> tuple[bytes, dict[str, Any]]:
    head, body, _ = token.split(".")
    return jwt.b64url_decode(head), json.loads(jwt.b64url_decode(body))


@pytest.fixture
def emulator_for_key0() -> Iterator[EmulatorHandle]:
    from knoxhook.emulator.testing import running_emulator

    with running_emulator() as handle:
        legacy.install(handle.app.app, {IDENTIFIER: spki_b64(rsa_key(0))}, time.time)
        yield handle


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_samsungs_library_and_knoxhook_agree_and_the_emulator_takes_both(
    library: Path, tmp_path: Path, emulator_for_key0: EmulatorHandle, fmt: str
) -> None:
    emu = emulator_for_key0
    keys_path = tmp_path / "keys.json"
    keys_path.write_text(json.dumps(keys_document(rsa_key(0), fmt)))
    keys = load_keys(keys_path)
    ours_ci = jwt.sign_client_identifier(keys, IDENTIFIER)
    ours_at = jwt.sign_access_token(keys, "placeholder")

    # 1. the library signs the Client Identifier; the emulator trades it for a token
    first = _node(library, keys_path, "placeholder", [ours_ci, ours_at])
    assert first["publicKey"] == keys.public_key_b64 == spki_b64(rsa_key(0))
    response = httpx2.post(
        emu.base_url + wire.LEGACY_ACCESS_TOKEN_PATH,
        json={
            wire.F_LEGACY_PUBLIC_KEY: first["publicKey"],
            wire.F_LEGACY_CLIENT_IDENTIFIER_JWT: first["clientIdentifierJwt"],
            wire.F_LEGACY_VALIDITY: 30,
        },
    )
    assert response.status_code == 200, response.text
    access = response.json()["accessToken"]

    # 2. the library signs that access token; the emulator accepts it on KWN
    second = _node(library, keys_path, access, [])
    listing = httpx2.get(
        emu.base_url + wire.subscriptions_path(wire.KWN_LEGACY_PREFIX),
        headers={wire.H_API_TOKEN: second["accessTokenJwt"]},
    )
    assert (listing.status_code, listing.json()) == (200, [])

    # 3. same header bytes, claim names, order and formats; each verifies the other's
    for theirs, ours, claim, value in (
        (first["clientIdentifierJwt"], ours_ci, "clientIdentifier", IDENTIFIER),
        (second["accessTokenJwt"], jwt.sign_access_token(keys, access), "accessToken", access),
    ):
        their_header, their_claims = _parts(theirs)
        our_header, our_claims = _parts(ours)
        assert our_header == their_header == b'{"alg":"RS512","typ":"JWT"}'
        assert (
            list(our_claims)
            == list(their_claims)
            == [claim, "publicKey", "iat", "exp", "aud", "jti"]
        )
        for claims in (our_claims, their_claims):
            assert claims[claim] == value
            assert claims["publicKey"] == keys.public_key_b64
            assert claims["exp"] - claims["iat"] == 1800
            assert claims["aud"] == "KnoxWSM"
            assert re.fullmatch(UUID1 + UUID1, claims["jti"])
        assert abs(our_claims["iat"] - their_claims["iat"]) < 120
        jwt.verify(theirs, keys.public_key)  # knoxhook verifies Samsung's
    for verdict, claim in zip(first["verified"], ("clientIdentifier", "accessToken"), strict=True):
        assert "error" not in verdict, verdict  # Samsung's jsonwebtoken verifies ours
        assert verdict["aud"] == "KnoxWSM"
        assert claim in verdict


def test_the_librarys_public_key_is_spki_der_base64(library: Path, tmp_path: Path) -> None:
    keys_path = tmp_path / "certificate.json"
    keys_path.write_text(json.dumps(keys_document(rsa_key(0), "der-pkcs1-pkcs1")))
    result = _node(library, keys_path, "x", [])
    der = base64.b64decode(result["publicKey"])
    assert der[:2] == b"\x30\x82"  # a SEQUENCE: SubjectPublicKeyInfo, not the PKCS#1 input
    assert result["publicKey"] == load_keys(keys_path).public_key_b64

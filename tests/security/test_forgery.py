"""The audit's passing cases, kept passing: no forged callback ever verifies.

- ``alg: none``, with an empty or any signature;
- HS256 "key confusion": an HMAC keyed with the trusted certificate's public key (PEM or
  DER, of the key or the certificate), which a verifier trusting ``alg`` would accept;
- a signature by an attacker's key named in the JOSE header (``jwk``, ``jku``, ``x5u``,
  ``x5c``, ``kid``): never fetched (the key server, which would serve the attacker's
  key, gets no request) and never trusted.

Each is tried in the four forms Knox may sign (padded or not, detached or attached),
through the library (``verify_callback``) and the ``verify`` command (exit 8). The
assertion is what matters, a forgery never verifies, not the reason string (the
verifier may report an unexpected ``alg`` and check RS256 anyway).
"""

from __future__ import annotations

from pathlib import Path

from knoxhook.errors import CallbackVerificationError
from knoxhook.signature import verify_callback
from tests.cli.conftest import Cli
from tests.receiver.signing import Signer
from tests.security.conftest import Tap
from tests.security.forging import BODY, FORMS, forgeries, headers, jws, rs256


def test_the_genuine_callback_verifies_in_every_form(trusted: Signer) -> None:
    """The control: the harness signs the way Knox does, so the refusals below are due
    to the forgery alone."""
    for padded, detached in FORMS:
        signature = jws({"alg": "RS256", "typ": "JWT"}, rs256(trusted), padded, detached)
        result = verify_callback(BODY, headers(signature), [trusted.cert])
        assert result.event == "KDMS_DEVICE_UPLOAD"


def test_no_forgery_verifies_and_no_key_is_fetched(
    trusted: Signer, attacker: Signer, key_server: Tap
) -> None:
    verified = []
    for forgery in forgeries(trusted, attacker, key_server):
        for padded, detached in FORMS:
            signature = jws(forgery.jose, forgery.sign, padded, detached)
            try:
                verify_callback(BODY, headers(signature), [trusted.cert])
            except CallbackVerificationError:
                continue
            verified.append((forgery.name, padded, detached))
    assert verified == []
    assert key_server.requests == []  # jku/x5u never fetched


def test_the_verify_command_refuses_every_forgery_with_exit_8(
    cli: Cli, trusted: Signer, attacker: Signer, key_server: Tap, tmp_path: Path
) -> None:
    cert = tmp_path / "knox.pem"
    cert.write_bytes(trusted.pem)
    body = tmp_path / "body.json"
    body.write_bytes(BODY)
    codes = {}
    for forgery in forgeries(trusted, attacker, key_server):
        signature = jws(forgery.jose, forgery.sign, True, True)
        r = cli("verify", "--body", str(body), "--signature", signature, "--cert", str(cert))
        codes[forgery.name] = r.code
    assert codes == dict.fromkeys(codes, 8)
    genuine = jws({"alg": "RS256"}, rs256(trusted), True, True)
    assert cli("verify", "--body", str(body), "--signature", genuine, "--cert", str(cert)).code == 0
    assert key_server.requests == []

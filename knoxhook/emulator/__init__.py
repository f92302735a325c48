"""The Knox cloud emulator: a stateful local stand-in for the Knox cloud.

It serves the OAuth 2.0 token endpoints, the KWN Subscription API (``/kwn/v1`` and the
early-access ``/kcs/kwn/v0.1``), the validation certificate, and sends callbacks signed
the way Knox signs them. Control endpoints under ``/_emulator`` trigger events, inject
faults and expose counters. See ``docs/emulator.md``.

This module is the emulator's vocabulary, and stays import-light (constants and two
``StrEnum``s): the CLI imports it at start-up. Every other module, the CLI included,
imports these names instead of spelling them again.

Use ``knoxhook.emulator.runner.run_emulator`` to serve it, ``knoxhook.emulator.controls``
to drive it, and ``knoxhook.emulator.testing.running_emulator`` in tests.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

# The documented demo client, accepted when no ``--client`` is given. These are test
# data for the local emulator, not secrets: they never work against the real Knox cloud.
DEMO_CLIENT_ID: Final = "knoxhook-demo"
DEMO_CLIENT_SECRET: Final = "knoxhook-demo-secret"  # noqa: S105 - documented demo value

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8765
CONTROL_PREFIX: Final = "/_emulator"
CLIENTS_ENV: Final = "KNOXHOOK_EMULATOR_CLIENTS"
URL_ENV: Final = "KNOXHOOK_EMULATOR_URL"  # where `trigger` and the control commands look
# A trace id is sent as the X-WSM-TRACEID header: printable ASCII, no space at either end.
TRACE_ID_PATTERN: Final = r"^[!-~]([ -~]{0,254}[!-~])?$"
# Off loopback (``--allow-remote``) the control endpoints need the token printed at
# start-up, sent in this header; the CLI's control commands read it from this variable.
CONTROL_TOKEN_HEADER: Final = "X-Emulator-Token"  # noqa: S105 - a header name
CONTROL_TOKEN_ENV: Final = "KNOXHOOK_EMULATOR_TOKEN"  # noqa: S105 - a variable name


class SigningMode(StrEnum):
    """How the emulator signs a callback (``X-WSM-SIGNATURE``); see ``signer.py``."""

    SAMSUNG = "samsung"  # sends and signs what Samsung's sample verifier signs
    SAMSUNG_RESERIALIZED = "samsung-reserialized"  # sends other text re-serializing to it
    PADDED = "padded"
    UNPADDED = "unpadded"
    DETACHED = "detached"


SIGNING_MODES: Final = tuple(mode.value for mode in SigningMode)
DEFAULT_SIGNING: Final = SigningMode.SAMSUNG
# Which verifiers accept a callback signed in each mode: for --help and docs/emulator.md.
SIGNING_ACCEPTED_BY: Final = {
    SigningMode.SAMSUNG: "the body is exactly what Samsung's sample signs (compact, top-level "
    "keys in Java HashMap order), padded: accepted by Samsung's sample, knoxhook, and any "
    "verifier of the raw body with padded base64url",
    SigningMode.SAMSUNG_RESERIALIZED: "the body is pretty JSON in document order; the "
    "signature covers Samsung's re-serialization of it: accepted by Samsung's sample and "
    "knoxhook, not by verifiers of the raw body",
    SigningMode.PADDED: "compact body in document order, padded base64url: raw-body "
    "verifiers and knoxhook; not Samsung's sample (it re-orders the keys)",
    SigningMode.UNPADDED: "compact body, standard JWS (RFC 7515): JWS libraries and knoxhook; "
    "not Samsung's sample",
    SigningMode.DETACHED: "compact body, part 1 empty (RFC 7515 appendix F): JWS libraries "
    "given the body as detached payload, and knoxhook; not Samsung's sample",
}


class CertAction(StrEnum):
    """How the emulator re-issues its validation certificate (``certs.py``).

    The same names everywhere: ``--cert-state``, ``POST /_emulator/certificate``
    ``{"action": ...}``, ``EmulatorConfig.cert_state``.
    """

    VALID = "valid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    ROTATE_SAME_KEY = "rotate-same-key"
    ROTATE_NEW_KEY = "rotate-new-key"

    @classmethod
    def _missing_(cls, value: object) -> CertAction | None:
        # "expire" was the control endpoint's spelling before the names were unified;
        # scripts and tests written against it keep working.
        return cls.EXPIRED if value == "expire" else None


CERT_ACTIONS: Final = tuple(action.value for action in CertAction)

# Callback delivery (the emulator's own policy: Knox's is not documented, knox-api.md §5).
DELIVERY_TIMEOUT: Final = 5.0  # seconds per attempt
DELIVERY_RETRIES: Final = 2  # after the first attempt
DELIVERY_BACKOFF: Final = 0.2  # seconds before the first retry; doubles each time
SIGNING_HELP: Final = "; ".join(f"{mode}: {text}" for mode, text in SIGNING_ACCEPTED_BY.items())

"""The Knox cloud emulator: a stateful local stand-in for the Knox cloud.

It serves the OAuth 2.0 token endpoints, the KWN Subscription API (``/kwn/v1`` and the
early-access ``/kcs/kwn/v0.1``), the validation certificate, and sends callbacks signed
the way Knox signs them. Control endpoints under ``/_emulator`` trigger events, inject
faults and expose counters. See ``docs/emulator.md``.

This module stays import-light (constants only): the CLI imports it at start-up.
Use ``knoxhook.emulator.app.create_app`` for the ASGI app and
``knoxhook.emulator.testing.running_emulator`` in tests.
"""

from __future__ import annotations

from typing import Final

# The documented demo client, accepted when no ``--client`` is given. These are test
# data for the local emulator, not secrets: they never work against the real Knox cloud.
DEMO_CLIENT_ID: Final = "knoxhook-demo"
DEMO_CLIENT_SECRET: Final = "knoxhook-demo-secret"  # noqa: S105 - documented demo value

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8765
CONTROL_PREFIX: Final = "/_emulator"
SIGNING_MODES: Final = ("padded", "unpadded", "detached")
CERT_ACTIONS: Final = ("valid", "expire", "not-yet-valid", "rotate-same-key", "rotate-new-key")
CLIENTS_ENV: Final = "KNOXHOOK_EMULATOR_CLIENTS"

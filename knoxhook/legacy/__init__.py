"""Legacy Knox Cloud Authentication: what Knox Guard customers must use (knox-api.md §2b).

Samsung calls it "legacy", but the Knox Guard API does not take OAuth 2.0 [doc]. The user
downloads ``keys.json`` (or ``certificate.json``) from the Knox Cloud API portal and
generates a Client Identifier there; knoxhook signs the identifier (RS512), trades it at
``POST /ams/v1/users/accesstoken`` for an access token, signs that, and sends it as
``x-knox-apitoken`` on every call.

- ``keys``: parse keys.json (``Public``/``Private`` as PEM or base64 DER, PKCS#1 or #8).
- ``jwt``: the two JWTs, exactly as Samsung's ``knox-token-library-js@1.0.22`` makes them.
- ``cache``: the signed token on disk (0600, atomic); read with no lock and no crypto.
- ``source``: ``LegacyTokenManager``, the same interface as ``tokens.TokenManager``.
- ``auth``: the httpx2 auth flow that sends ``x-knox-apitoken`` and renews once.

This module stays import-light (constants only); nothing on the ``--help`` path imports
the others (they import ``cryptography``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

AUTH_LEGACY: Final = "legacy"  # the profile's ``auth`` value; OAuth is the default
AUTH_OAUTH: Final = "oauth"

# The documented demo legacy client of the emulator. Test data for the local emulator,
# not secrets: this key pair and identifier never work against the real Knox cloud.
DEMO_IDENTIFIER: Final = "knoxhook-demo-identifier"
DEMO_KEYS_PATH: Final = Path(__file__).with_name("demo-keys.json")

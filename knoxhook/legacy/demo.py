"""``knoxhook demo --auth legacy``: the demo's steps with Knox Guard's authentication.

The demo's temporary profile gets the emulator's documented demo legacy client
(``DEMO_IDENTIFIER`` and ``DEMO_KEYS_PATH``), stored as ``auth login --keys
--insecure-storage`` would (a 0600 file in the demo's temporary config dir: the user's
keyring is never touched); every later step then resolves them like a real command.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from knoxhook import wire
from knoxhook.credentials import FILE_STORE
from knoxhook.legacy import AUTH_LEGACY, DEMO_IDENTIFIER, DEMO_KEYS_PATH

if TYPE_CHECKING:
    from knoxhook.client import KnoxClient
    from knoxhook.config import Settings

EVENT = "KG_DEVICE_LOCKED"  # Knox Guard's event: the customers of this scheme


def prepare(settings: Settings) -> Settings:
    """The demo settings as a legacy profile, with the demo client's keys stored."""
    from knoxhook.legacy import store

    legacy = dataclasses.replace(settings, auth=AUTH_LEGACY, secret_store=FILE_STORE)
    creds = store.from_file(DEMO_KEYS_PATH, DEMO_IDENTIFIER)
    store.store(legacy, creds, insecure_file=True)
    return legacy


def token_step(client: KnoxClient) -> tuple[str, str, dict[str, Any]]:
    """(name, title, detail) of the demo's token step: a signed x-knox-apitoken."""
    from knoxhook.legacy.cache import cache_path

    token = client.tokens.get()
    settings = client.settings
    mode = oct(cache_path(settings).stat().st_mode & 0o777)
    return (
        "token",
        "Legacy access token obtained and signed (keys.json + Client Identifier, "
        "sent as x-knox-apitoken)",
        {
            "token_url": settings.base_url + wire.LEGACY_ACCESS_TOKEN_PATH,
            "kwn_prefix": settings.kwn_prefix,
            "expires_in": round(token.expires_in(time.time())),
            "cache_mode": mode,
        },
    )

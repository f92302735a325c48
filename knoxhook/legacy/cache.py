"""The on-disk cache of the signed legacy token (the ``x-knox-apitoken`` value).

``<cache dir>/tokens/legacy-<sha256>.json``, 0600 in a 0700 directory, written
atomically by ``tokencache`` (which trusts nothing it did not write), in its format.
The key is the profile, the host, and ``KNOXHOOK_KEYS_FILE`` /
``KNOXHOOK_CLIENT_IDENTIFIER`` when set (hashed: the identifier is a secret), so other
keys never reuse a token. Reading it takes no lock and imports neither cryptography nor
keyring: a command with a cached token starts fast. Neither the keys nor the identifier
are ever written here.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from knoxhook import tokencache
from knoxhook.config import Settings
from knoxhook.tokencache import Token

ENV_KEYS_FILE = "KNOXHOOK_KEYS_FILE"
ENV_IDENTIFIER = "KNOXHOOK_CLIENT_IDENTIFIER"


def cache_path(settings: Settings) -> Path:
    key = json.dumps(
        [
            "legacy",
            settings.profile,
            settings.base_url,
            os.environ.get(ENV_KEYS_FILE, ""),
            os.environ.get(ENV_IDENTIFIER, ""),
        ]
    )
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return tokencache.tokens_dir(settings) / f"legacy-{digest}.json"


def read_cached(settings: Settings) -> Token | None:
    """The cached signed token (fresh or not); None when missing, unreadable or not to
    be trusted (``tokencache.read_cached``'s checks: a link, someone else's file...)."""
    return tokencache.read_cached(settings, cache_path(settings))

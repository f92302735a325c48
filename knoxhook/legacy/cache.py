"""The on-disk cache of the signed legacy token (the ``x-knox-apitoken`` value).

``<cache dir>/tokens/legacy-<sha256>.json``, 0600 in a 0700 directory, written
atomically (``files.write_private``), in ``tokencache.Token``'s format. The key is the
profile, the host, and ``KNOXHOOK_KEYS_FILE`` / ``KNOXHOOK_CLIENT_IDENTIFIER`` when set
(hashed: the identifier is a secret), so other keys never reuse a token. Reading it
takes no lock and imports neither cryptography nor keyring: a command with a cached
token starts fast. Neither the keys nor the identifier are ever written here.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from knoxhook.config import Settings
from knoxhook.files import ensure_private_dir, write_private
from knoxhook.tokencache import TOKENS_DIR, Token

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
    return settings.cache_dir / TOKENS_DIR / f"legacy-{digest}.json"


def read_cached(settings: Settings) -> Token | None:
    """The cached signed token (fresh or not); None when missing or unreadable."""
    try:
        data = json.loads(cache_path(settings).read_text(encoding="utf-8"))
        return Token(
            access_token=str(data["access_token"]),
            expires_at=float(data["expires_at"]),
            obtained_at=float(data["obtained_at"]),
            token_type=str(data.get("token_type") or ""),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cached(settings: Settings, token: Token) -> None:
    path = cache_path(settings)
    ensure_private_dir(path.parent)
    record = asdict(token) | {"profile": settings.profile, "host": settings.base_url}
    write_private(path, json.dumps(record, indent=1).encode("utf-8"))

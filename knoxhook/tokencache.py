"""The on-disk token cache: one OAuth token per (profile, token URL, client id, scope).

``<cache dir>/tokens/<sha256>.json``, the file 0600 and the directory 0700, written
atomically; never the secret. Reading it takes no lock and imports neither authlib nor
keyring, so a command with a cached token starts fast (``knoxhook.tokens`` fetches and
renews under a lock).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from knoxhook.config import Settings
from knoxhook.files import ensure_private_dir, write_private

TOKENS_DIR = "tokens"


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_at: float  # epoch seconds
    obtained_at: float
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type
    scope: str | None = None

    def expires_in(self, now: float) -> float:
        return self.expires_at - now

    def is_fresh(self, now: float, margin: float) -> bool:
        """Still usable for a while: ``margin`` (at most half its lifetime) before expiry."""
        lifetime = max(self.expires_at - self.obtained_at, 0.0)
        return self.expires_at - min(margin, lifetime / 2) > now


def cache_path(settings: Settings) -> Path:
    key = json.dumps([settings.profile, settings.token_url, settings.client_id, settings.scope])
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return settings.cache_dir / TOKENS_DIR / f"{digest}.json"


def read_cached(settings: Settings) -> Token | None:
    """The cached token (fresh or not); None when missing or unreadable."""
    try:
        data = json.loads(cache_path(settings).read_text(encoding="utf-8"))
        return Token(
            access_token=str(data["access_token"]),
            expires_at=float(data["expires_at"]),
            obtained_at=float(data["obtained_at"]),
            token_type=str(data.get("token_type") or "Bearer"),
            scope=data.get("scope"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cached(settings: Settings, token: Token) -> None:
    path = cache_path(settings)
    ensure_private_dir(path.parent)
    record = asdict(token) | {
        "profile": settings.profile,
        "token_url": settings.token_url,
        "client_id": settings.client_id,
    }
    write_private(path, json.dumps(record, indent=1).encode("utf-8"))

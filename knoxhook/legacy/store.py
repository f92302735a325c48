"""Where a legacy profile's keys.json and Client Identifier live.

Both are secrets (the private key signs for the customer; the identifier is the
"api-key" [doc]), stored like the OAuth client secret: the OS keyring first, a 0600
file only on request (``--insecure-storage``), never ``config.toml``, and never the
path of the downloaded keys.json alone (a download folder is not a safe place).

``resolve`` precedence, each part on its own, first found wins:

1. ``KNOXHOOK_KEYS_FILE`` (a path to keys.json) and ``KNOXHOOK_CLIENT_IDENTIFIER``;
2. the OS keyring: service ``knoxhook``, username ``<profile>:legacy``, holding one JSON
   document ``{"keys": <canonical keys.json>, "identifier": ...}`` (keyring errors fall
   through to the next source, as in twine's ``auth.py``);
3. ``<config dir>/secrets/<profile>.legacy.json`` (0600), only when the profile says
   ``secret_store = "file"``.

Nothing found: ``NotConfiguredError`` (exit 3) naming the ways to provide them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from knoxhook.config import Settings
from knoxhook.credentials import (
    FILE_STORE,
    KEYRING_SERVICE,
    KEYRING_STORE,
    SECRETS_DIR,
    SecretLocation,
    keyring_usable,
)
from knoxhook.errors import NotConfiguredError
from knoxhook.files import ensure_private_dir, write_private
from knoxhook.legacy.cache import ENV_IDENTIFIER, ENV_KEYS_FILE
from knoxhook.legacy.keys import LegacyKeys, load_keys, parse_keys

HINT: Final = (
    f"run `knoxhook auth login --keys keys.json` (keyring, or a 0600 file with "
    f"--insecure-storage), or set {ENV_KEYS_FILE} and {ENV_IDENTIFIER}"
)


@dataclass(frozen=True)
class LegacyCredentials:
    """The key pair and the Client Identifier; ``repr`` shows neither."""

    keys: LegacyKeys = field(repr=False)
    identifier: str = field(repr=False)


def keyring_username(settings: Settings) -> str:
    return f"{settings.profile}:legacy"


def secret_file(settings: Settings) -> Path:
    return settings.config_dir / SECRETS_DIR / f"{settings.profile}.legacy.json"


def _document(credentials: LegacyCredentials) -> str:
    return json.dumps(
        {"keys": credentials.keys.to_json().decode("ascii"), "identifier": credentials.identifier},
        separators=(",", ":"),
    )


def _parse(text: str, where: str) -> tuple[LegacyKeys, str]:
    try:
        document: Any = json.loads(text)
        keys = parse_keys(str(document["keys"]).encode("ascii"), where)
        identifier = str(document["identifier"])
    except (ValueError, KeyError, TypeError, UnicodeEncodeError):
        raise NotConfiguredError(f"the stored legacy credentials in {where} are damaged",
                                 hint=HINT) from None  # fmt: skip
    return keys, identifier


def _keyring() -> Any:
    import keyring

    return keyring


def _stored(settings: Settings) -> tuple[tuple[LegacyKeys, str] | None, SecretLocation]:
    problems: list[str] = []
    entry = f"service {KEYRING_SERVICE!r}, user {keyring_username(settings)!r}"
    try:
        text = _keyring().get_password(KEYRING_SERVICE, keyring_username(settings))
    except Exception as exc:  # any backend failure (dbus, locked store...) -> next source
        text = None
        problems.append(f"the OS keyring could not be read ({type(exc).__name__})")
    if text:
        return _parse(text, f"the keyring ({entry})"), SecretLocation(KEYRING_STORE, entry)
    if settings.secret_store == FILE_STORE:
        path = secret_file(settings)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = None
        except OSError as exc:
            raise NotConfiguredError(f"cannot read {path}: {exc.strerror}", hint=HINT) from exc
        if text:
            return _parse(text, str(path)), SecretLocation(FILE_STORE, str(path))
    return None, SecretLocation("none", "; ".join(problems) or "no keys stored")


def locate(settings: Settings) -> SecretLocation:
    """Where the keys would come from, for ``auth status`` (never the keys)."""
    if os.environ.get(ENV_KEYS_FILE) and os.environ.get(ENV_IDENTIFIER):
        return SecretLocation("env", f"{ENV_KEYS_FILE}, {ENV_IDENTIFIER}")
    try:
        return _stored(settings)[1]
    except NotConfiguredError as exc:
        return SecretLocation("none", exc.message)


def resolve(settings: Settings) -> LegacyCredentials:
    """The keys and identifier of ``settings.profile`` (precedence in the module doc)."""
    keys_path = os.environ.get(ENV_KEYS_FILE)
    identifier = os.environ.get(ENV_IDENTIFIER, "").strip() or None
    keys = load_keys(Path(keys_path)) if keys_path else None
    if keys is None or identifier is None:
        stored, location = _stored(settings)
        if stored is not None:
            keys = keys or stored[0]
            identifier = identifier or stored[1]
        if keys is None or identifier is None:
            missing = "keys" if keys is None else "Client Identifier"
            raise NotConfiguredError(
                f"no legacy {missing} for profile {settings.profile!r} ({location.detail})",
                hint=HINT,
            )
    return LegacyCredentials(keys, identifier)


def store(settings: Settings, credentials: LegacyCredentials, *, insecure_file: bool) -> str:
    """Store both; returns where (``keyring`` or ``file``). Storing in one place removes
    a stale copy from the other. No keyring and no opt-in: ``NotConfiguredError``."""
    if insecure_file:
        path = secret_file(settings)
        ensure_private_dir(path.parent)
        write_private(path, _document(credentials).encode("ascii"))
        _keyring_delete(settings)
        return FILE_STORE
    if not keyring_usable():
        raise _no_keyring("no OS keyring is available")
    kr, user, text = _keyring(), keyring_username(settings), _document(credentials)
    try:
        kr.set_password(KEYRING_SERVICE, user, text)
        kept = kr.get_password(KEYRING_SERVICE, user)
    except Exception as exc:  # any backend failure; only its type is shown
        raise _no_keyring(f"the OS keyring refused them ({type(exc).__name__})") from exc
    if kept != text:
        raise _no_keyring("the OS keyring did not keep them")
    secret_file(settings).unlink(missing_ok=True)
    return KEYRING_STORE


def check_storage(*, insecure_file: bool) -> None:
    """Fail before any request when ``store`` could not keep the keys."""
    if not insecure_file and not keyring_usable():
        raise _no_keyring("no OS keyring is available")


def _no_keyring(reason: str) -> NotConfiguredError:
    return NotConfiguredError(
        f"cannot store the keys and Client Identifier: {reason}",
        hint="install/unlock an OS keyring, or use `auth login --insecure-storage` (a 0600 "
        f"file in the config dir), or set {ENV_KEYS_FILE} and {ENV_IDENTIFIER}",
    )


def _keyring_delete(settings: Settings) -> bool:
    try:
        kr, user = _keyring(), keyring_username(settings)
        if kr.get_password(KEYRING_SERVICE, user) is None:
            return False
        kr.delete_password(KEYRING_SERVICE, user)
    except Exception:  # no keyring, or nothing to delete
        return False
    return True


def delete(settings: Settings) -> list[str]:
    """Forget the stored keys and identifier (keyring and file); returns what went."""
    removed = ["keyring"] if _keyring_delete(settings) else []
    path = secret_file(settings)
    if path.exists():
        path.unlink()
        removed.append(str(path))
    return removed


def from_file(path: Path, identifier: str) -> LegacyCredentials:
    """Credentials from a keys.json the user names and an identifier they typed."""
    return LegacyCredentials(load_keys(path), identifier)

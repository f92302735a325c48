"""Where the client secret lives: env, OS keyring, or an opt-in 0600 file.

The client secret is never a setting in ``config.toml`` and never accepted as a plain
command-line argument. ``keyring`` is imported only here, and only when a secret is
actually needed (it is slow to import).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from knoxhook.config import Settings
from knoxhook.errors import NotConfiguredError
from knoxhook.files import ensure_private_dir, store_private

ENV_SECRET: Final = "KNOXHOOK_CLIENT_SECRET"  # noqa: S105 - a variable name
KEYRING_SERVICE: Final = "knoxhook"
SECRETS_DIR: Final = "secrets"
FILE_STORE: Final = "file"  # the profile's secret_store value for the opt-in file
KEYRING_STORE: Final = "keyring"

LOGIN_HINT: Final = (
    f"set {ENV_SECRET}, or run `knoxhook auth login` (it stores the secret in the OS "
    "keyring, or in a 0600 file with --insecure-storage)"
)


@dataclass(frozen=True)
class SecretLocation:
    """Where ``resolve_secret`` would find the secret (never the secret itself)."""

    kind: str  # "env" | "keyring" | "file" | "none"
    detail: str  # the env var, the keyring entry, the file path, or why none was found


def keyring_username(settings: Settings) -> str:
    """The keyring entry is service ``knoxhook``, username ``<profile>:<client id>``."""
    return f"{settings.profile}:{settings.client_id or ''}"


def secret_file(settings: Settings) -> Path:
    """The opt-in secret file: ``<config dir>/secrets/<profile>`` (0600, dir 0700)."""
    return settings.config_dir / SECRETS_DIR / settings.profile


def _keyring() -> Any:
    import keyring

    return keyring


def _keyring_get(settings: Settings) -> tuple[str | None, str | None]:
    """(secret, problem): keyring errors fall through as a problem, never a crash."""
    try:
        secret = _keyring().get_password(KEYRING_SERVICE, keyring_username(settings))
    except Exception as exc:  # any backend failure (dbus, locked store...) -> next source
        return None, f"the OS keyring could not be read ({type(exc).__name__})"
    return (secret or None), None


def _file_get(settings: Settings) -> str | None:
    if settings.secret_store != FILE_STORE:
        return None
    try:
        text = secret_file(settings).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise NotConfiguredError(
            f"cannot read the secret file {secret_file(settings)}: {exc.strerror}",
            hint=LOGIN_HINT,
        ) from exc
    return text.strip() or None


def _find(settings: Settings) -> tuple[str | None, SecretLocation]:
    if os.environ.get(ENV_SECRET):
        return os.environ[ENV_SECRET], SecretLocation("env", ENV_SECRET)
    problems: list[str] = []
    if settings.client_id:
        secret, problem = _keyring_get(settings)
        if secret:
            entry = f"service {KEYRING_SERVICE!r}, user {keyring_username(settings)!r}"
            return secret, SecretLocation("keyring", entry)
        if problem:
            problems.append(problem)
    secret = _file_get(settings)
    if secret:
        return secret, SecretLocation("file", str(secret_file(settings)))
    return None, SecretLocation("none", "; ".join(problems) or "no secret stored")


def locate_secret(settings: Settings) -> SecretLocation:
    """Where the secret would come from, for ``auth status``."""
    return _find(settings)[1]


def resolve_secret(settings: Settings) -> str:
    """The client secret of ``settings.profile``. Precedence, first found wins:

    1. the environment variable ``KNOXHOOK_CLIENT_SECRET``;
    2. the OS keyring: service ``knoxhook``, username ``<profile>:<client id>``
       (keyring errors fall through to the next source, as in twine's ``auth.py``);
    3. the file ``<config dir>/secrets/<profile>`` (0600), only when the profile says
       ``secret_store = "file"`` (``auth login --insecure-storage`` put it there).

    Nothing found: ``NotConfiguredError`` (exit 3) naming the ways to provide one.
    """
    secret, location = _find(settings)
    if secret is None:
        raise NotConfiguredError(
            f"no client secret for profile {settings.profile!r} ({location.detail})",
            hint=LOGIN_HINT,
        )
    return secret


def keyring_usable() -> bool:
    """False for the null/fail backends (no OS keyring); a cheap check before login."""
    try:
        backend = _keyring().get_keyring()
        from keyring.backends import fail, null

        return not isinstance(backend, fail.Keyring | null.Keyring)
    except Exception:  # keyring backends raise anything (dbus, import errors): none usable
        return False


def _no_keyring_error(reason: str) -> NotConfiguredError:
    return NotConfiguredError(
        f"cannot store the client secret: {reason}",
        hint=(
            f"install/unlock an OS keyring, or use `auth login --insecure-storage` "
            f"(a 0600 file in the config dir), or set {ENV_SECRET} in the environment"
        ),
    )


def check_storage(*, insecure_file: bool) -> None:
    """Fail early (``NotConfiguredError`` listing the options) when ``store_secret`` could
    not keep the secret: no usable keyring and no opt-in file."""
    if not insecure_file and not keyring_usable():
        raise _no_keyring_error("no OS keyring is available")


def store_secret(settings: Settings, secret: str, *, insecure_file: bool) -> str:
    """Store the secret; returns where it went (``keyring`` or ``file``).

    The keyring is used unless ``insecure_file``; the value is read back to prove the
    backend really keeps it (the null backend silently drops it). With no usable
    keyring and no ``insecure_file``: ``NotConfiguredError`` listing the options.
    Storing in one place removes a stale copy from the other.
    """
    if insecure_file:
        path = secret_file(settings)
        ensure_private_dir(path.parent)
        store_private(path, secret.encode("utf-8"))
        _keyring_delete(settings)
        return FILE_STORE
    if not settings.client_id:
        raise NotConfiguredError("cannot store a secret without a client id")
    if not keyring_usable():
        raise _no_keyring_error("no OS keyring is available")
    kr = _keyring()
    user = keyring_username(settings)
    try:
        kr.set_password(KEYRING_SERVICE, user, secret)
        stored = kr.get_password(KEYRING_SERVICE, user)
    except Exception as exc:  # any backend failure; only its type is shown (no secret)
        raise _no_keyring_error(f"the OS keyring refused it ({type(exc).__name__})") from exc
    if stored != secret:
        raise _no_keyring_error("the OS keyring did not keep it")
    secret_file(settings).unlink(missing_ok=True)
    return KEYRING_STORE


def _keyring_delete(settings: Settings) -> bool:
    if not settings.client_id:
        return False
    try:
        kr = _keyring()
        user = keyring_username(settings)
        if kr.get_password(KEYRING_SERVICE, user) is None:
            return False
        kr.delete_password(KEYRING_SERVICE, user)
    except Exception:  # no keyring, or nothing to delete: nothing was there for us
        return False
    return True


def delete_secret(settings: Settings) -> list[str]:
    """Remove the stored secret from the keyring and the file; returns what was removed.

    Idempotent: nothing stored means an empty list. The env var is the user's to unset.
    """
    removed: list[str] = []
    if _keyring_delete(settings):
        removed.append("keyring")
    path = secret_file(settings)
    if path.exists():
        path.unlink()
        removed.append(str(path))
    return removed

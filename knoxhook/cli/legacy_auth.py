"""``knoxhook auth`` for a legacy profile (Knox Guard: keys.json + Client Identifier).

``cli/auth.py`` hands over here when ``auth login`` is given ``--keys`` (or
``KNOXHOOK_KEYS_FILE`` without ``--client-id``), and when the profile's ``auth`` is
``legacy`` for ``status``, ``token`` and ``logout``. Heavy modules (cryptography,
httpx2, keyring) are imported inside the functions.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knoxhook.cli import checks, common
from knoxhook.errors import AuthenticationError, TransportError, UsageError
from knoxhook.timestamps import rfc3339

if TYPE_CHECKING:
    from knoxhook.config import Settings

ENV_KEYS_FILE = "KNOXHOOK_KEYS_FILE"
ENV_IDENTIFIER = "KNOXHOOK_CLIENT_IDENTIFIER"
_SAVED_KEYS = ("base_url", "tenant_id", "api_version")


def wants_legacy(keys: Path | None, client_id: str | None) -> bool:
    """``auth login`` is a legacy login with --keys, or KNOXHOOK_KEYS_FILE and no --client-id."""
    return keys is not None or (client_id is None and bool(os.environ.get(ENV_KEYS_FILE)))


def read_identifier(from_stdin: bool) -> str:
    """--client-identifier-stdin, else the env var, else a hidden prompt on a TTY."""
    return checks.read_secret_value(
        "Client Identifier",
        flag="--client-identifier-stdin",
        env=ENV_IDENTIFIER,
        from_stdin=from_stdin,
        pipe_hint='pipe it in: printf %s "$KNOX_CLIENT_IDENTIFIER" | knoxhook auth login '
        "--keys keys.json --client-identifier-stdin",
    )


def status_data(settings: Settings) -> dict[str, Any]:
    """What ``auth status`` shows for a legacy profile; never the keys or the token."""
    from knoxhook.legacy import cache, store

    location = store.locate(settings)
    token = cache.read_cached(settings)
    now = time.time()
    valid = token is not None and token.expires_at > now
    return {
        "profile": settings.profile,
        "auth": "legacy",
        "base_url": settings.base_url,
        "region": settings.region,
        "kwn_prefix": settings.kwn_prefix,
        "tenant_id": settings.tenant_id,
        "keys_source": location.kind,
        "keys_location": location.detail,
        "token_cached": valid,
        "token_expires_at": rfc3339(token.expires_at) if token and valid else None,
        "token_expires_in": int(token.expires_in(now)) if token and valid else None,
    }


def login(
    *,
    keys: Path | None,
    identifier_stdin: bool,
    region: str | None,
    base_url: str | None,
    api_version: str | None,
    tenant_id: str | None,
    validity: int | None,
    insecure_storage: bool,
    fmt: common.OutputFormat,
) -> None:
    """Check keys.json, get a first x-knox-apitoken with it, then store both secrets."""
    from knoxhook import config, credentials, wire
    from knoxhook.legacy import store
    from knoxhook.legacy.keys import load_keys
    from knoxhook.legacy.source import LegacyTokenManager

    path = keys or Path(os.environ[ENV_KEYS_FILE])
    if region is not None and region not in wire.LEGACY_REGIONS:
        raise UsageError(f"--region must be one of: {', '.join(wire.LEGACY_REGIONS)}")
    if validity is not None and not 1 <= validity <= wire.LEGACY_VALIDITY_MAX:
        raise UsageError(f"--validity must be 1 to {wire.LEGACY_VALIDITY_MAX} minutes")
    common.require_text(base_url=base_url, tenant_id=tenant_id, api_version=api_version)
    parsed = load_keys(path)  # a malformed file is a usage error (exit 2) before anything
    host = base_url or (wire.LEGACY_REGIONS[region] if region else None)
    settings = common.settings(
        auth="legacy", base_url=host, region=region, api_version=api_version, tenant_id=tenant_id
    )
    config.check_profile_name(settings.profile)
    common.check_urls(settings)
    identifier = read_identifier(identifier_stdin)
    store.check_storage(insecure_file=insecure_storage)  # fail before the network (exit 3)
    creds = store.LegacyCredentials(parsed, identifier)
    manager = LegacyTokenManager(
        settings,
        credentials=creds,
        validity=validity or wire.LEGACY_VALIDITY_DEFAULT,
        http=common.http_options(settings),
    )
    try:
        token = manager.refresh()
    except (AuthenticationError, TransportError) as exc:
        exc.hint = f"Nothing was saved; {exc.hint or 'try again'}"
        raise

    previous = config.load_settings(profile=settings.profile)
    if previous.auth != "legacy" and previous.client_id:
        credentials.delete_secret(previous)  # an OAuth secret of this profile must not linger
    where = store.store(settings, creds, insecure_file=insecure_storage)
    sources = settings.sources or {}
    values: dict[str, str | None] = {
        key: getattr(settings, key) for key in _SAVED_KEYS if sources.get(key) in ("flag", "env")
    }
    values |= {"auth": "legacy", "secret_store": where, "client_id": None, "token_url": None}
    values["region"] = region or (None if host else settings.region)
    first = not config.read_config(settings.config_dir).get("default_profile")
    config.save_profile(settings.config_dir, settings.profile, values, make_default=first)

    data = status_data(config.load_settings(profile=settings.profile))
    if where == credentials.FILE_STORE:
        common.warn(
            f"the keys and Client Identifier are stored unencrypted in {data['keys_location']}"
        )
    common.info(
        f"Logged in to {settings.base_url} with legacy Knox Cloud Authentication (profile "
        f"{settings.profile}); x-knox-apitoken valid until {rfc3339(token.expires_at)}."
    )
    common.emit(data, fmt=fmt)


def status(settings: Settings, fmt: common.OutputFormat) -> None:
    from knoxhook.errors import NotConfiguredError

    data = status_data(settings)
    common.emit(data, fmt=fmt)
    if data["keys_source"] == "none":
        raise NotConfiguredError(
            f"legacy profile {settings.profile!r} has no keys",
            hint="run `knoxhook auth login --keys keys.json`",
        )


def token(settings: Settings, fmt: common.OutputFormat) -> None:
    """Print the x-knox-apitoken value (the signed access token)."""
    from knoxhook import wire
    from knoxhook.legacy.source import LegacyTokenManager

    current = LegacyTokenManager(settings, http=common.http_options(settings)).get()
    if fmt is common.OutputFormat.TABLE:
        sys.stdout.write(current.access_token + "\n")
        sys.stdout.flush()
        return
    common.emit(
        {
            "access_token": current.access_token,
            "token_type": wire.H_API_TOKEN,
            "header": wire.H_API_TOKEN,
            "expires_at": rfc3339(current.expires_at),
        },
        fmt=fmt,
    )


def logout(settings: Settings, fmt: common.OutputFormat) -> None:
    """Forget the cached token and the stored keys and identifier (no revoke exists)."""
    from knoxhook import config
    from knoxhook.legacy import store
    from knoxhook.legacy.source import LegacyTokenManager

    had_token = LegacyTokenManager(settings, http=common.http_options(settings)).revoke()
    removed = store.delete(settings)
    if settings.secret_store and settings.profile in config.list_profiles(settings.config_dir):
        config.save_profile(settings.config_dir, settings.profile, {"secret_store": None})
    if not had_token and not removed:
        common.info(f"Nothing to do: profile {settings.profile} holds no token and no keys.")
    else:
        common.info(f"Logged out of profile {settings.profile}: its keys are forgotten.")
    for name in (ENV_KEYS_FILE, ENV_IDENTIFIER):
        if os.environ.get(name):
            common.warn(f"{name} is still set in the environment")
    common.emit(
        {
            "profile": settings.profile,
            "auth": "legacy",
            "token_revoked": False,
            "token_deleted": had_token,
            "secret_deleted": removed,
        },
        fmt=fmt,
    )

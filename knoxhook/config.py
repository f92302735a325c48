"""Profiles and settings.

Resolution, highest first (``load_settings``):

1. the command's own flags (``overrides``: ``--base-url``, ``--token-url``, ...);
2. environment variables: ``KNOXHOOK_BASE_URL``, ``KNOXHOOK_TOKEN_URL``,
   ``KNOXHOOK_CLIENT_ID``, ``KNOXHOOK_SCOPE``, ``KNOXHOOK_TENANT_ID``;
3. the profile's table in ``config.toml`` in the config dir (``[profiles.NAME]``);
4. defaults (``https://api.samsungknox.com``, token URL ``{base}/ams/v1/oauth2/token``).

The profile is ``--profile``, else ``KNOXHOOK_PROFILE``, else ``default_profile`` in
``config.toml``, else ``default``. Directories: ``KNOXHOOK_CONFIG_DIR`` /
``KNOXHOOK_CACHE_DIR``, else the platform's (platformdirs). The client secret is NOT a
setting: ``knoxhook.credentials`` resolves it. Secrets never go in ``config.toml``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from knoxhook import wire
from knoxhook.errors import UsageError

APP_NAME: Final = "knoxhook"
DEFAULT_PROFILE: Final = "default"
CONFIG_FILE: Final = "config.toml"

# setting name -> environment variable
ENV_VARS: Final[dict[str, str]] = {
    "base_url": "KNOXHOOK_BASE_URL",
    "token_url": "KNOXHOOK_TOKEN_URL",
    "client_id": "KNOXHOOK_CLIENT_ID",
    "scope": "KNOXHOOK_SCOPE",
    "tenant_id": "KNOXHOOK_TENANT_ID",
}
PROFILE_KEYS: Final = (*ENV_VARS, "secret_store")


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("KNOXHOOK_CONFIG_DIR"):
        return Path(env["KNOXHOOK_CONFIG_DIR"])
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("KNOXHOOK_CACHE_DIR"):
        return Path(env["KNOXHOOK_CACHE_DIR"])
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME))


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to reach Knox, except the secret."""

    profile: str
    base_url: str
    token_url: str
    client_id: str | None
    scope: str
    tenant_id: str | None
    config_dir: Path
    cache_dir: Path
    secret_store: str | None = None  # "keyring" | "file" | None (where login put it)
    sources: Mapping[str, str] | None = None  # setting -> "flag"|"env"|"profile"|"default"

    @property
    def revoke_url(self) -> str:
        """The revoke endpoint beside the token endpoint."""
        if self.token_url.endswith(wire.TOKEN_PATH):
            return self.token_url[: -len(wire.TOKEN_PATH)] + wire.REVOKE_PATH
        return self.base_url + wire.REVOKE_PATH


def read_config(directory: Path) -> dict[str, Any]:
    """The parsed ``config.toml`` (empty when missing); a broken file is a usage error."""
    path = directory / CONFIG_FILE
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(
            f"cannot read {path}: {exc}", hint="fix or remove the file, then run again"
        ) from exc


def load_settings(
    profile: str | None = None,
    overrides: Mapping[str, str | None] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings: flag (``overrides``) > env > profile > default (module docstring)."""
    env = os.environ if env is None else env
    overrides = overrides or {}
    cdir, kdir = config_dir(env), cache_dir(env)
    document = read_config(cdir)
    name = profile or env.get("KNOXHOOK_PROFILE") or document.get("default_profile")
    name = str(name or DEFAULT_PROFILE)
    table = document.get("profiles", {}).get(name, {})
    if not isinstance(table, dict):
        raise UsageError(f"profile {name!r} in {cdir / CONFIG_FILE} is not a table")

    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for key in PROFILE_KEYS:
        env_name = ENV_VARS.get(key)
        if overrides.get(key):
            values[key], sources[key] = overrides[key], "flag"
        elif env_name and env.get(env_name):
            values[key], sources[key] = env[env_name], "env"
        elif table.get(key):
            values[key], sources[key] = str(table[key]), "profile"
        else:
            values[key], sources[key] = None, "default"

    base_url = (values["base_url"] or wire.DEFAULT_BASE_URL).rstrip("/")
    token_url = values["token_url"] or base_url + wire.TOKEN_PATH
    if values["token_url"] is None and sources["base_url"] != "default":
        sources["token_url"] = sources["base_url"]
    return Settings(
        profile=name,
        base_url=base_url,
        token_url=token_url,
        client_id=values["client_id"],
        scope=values["scope"] or wire.DEFAULT_SCOPE,
        tenant_id=values["tenant_id"],
        config_dir=cdir,
        cache_dir=kdir,
        secret_store=values["secret_store"],
        sources=sources,
    )

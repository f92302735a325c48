"""Profiles and settings.

Resolution, highest first (``load_settings``):

1. the command's own flags (``overrides``: ``--base-url``, ``--token-url``, ...);
2. environment variables: ``KNOXHOOK_BASE_URL``, ``KNOXHOOK_TOKEN_URL``,
   ``KNOXHOOK_CLIENT_ID``, ``KNOXHOOK_SCOPE``, ``KNOXHOOK_TENANT_ID``;
3. the profile's table in ``config.toml`` in the config dir (``[profiles.NAME]``);
4. defaults (``https://api.samsungknox.com``, token URL ``{base}/ams/v1/oauth2/token``).

``allow_http`` (plain http:// to a host that is not this machine, refused by
``validation.validate_knox_urls`` unless allowed) is on when the ``--allow-http`` flag,
``KNOXHOOK_ALLOW_HTTP=1`` or the profile's ``allow_http = true`` says so; it is never
inferred from the URL.

``timeout`` (seconds for each connect/read/write of every request) is the global
``--timeout`` flag, else ``KNOXHOOK_TIMEOUT``, else the profile's ``timeout`` (a TOML
number), else the command's default (30 s; longer where a command waits on purpose).
Each must be a positive, finite number of seconds (``parse_timeout``), else exit 2.

The profile is ``--profile``, else ``KNOXHOOK_PROFILE``, else ``default_profile`` in
``config.toml``, else ``default``. Directories: ``KNOXHOOK_CONFIG_DIR`` /
``KNOXHOOK_CACHE_DIR``, else the platform's (platformdirs). The client secret is NOT a
setting: ``knoxhook.credentials`` resolves it. Secrets never go in ``config.toml``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from knoxhook import wire
from knoxhook.errors import UsageError
from knoxhook.files import ensure_private_dir as ensure_private_dir  # re-exported
from knoxhook.files import write_private as write_private  # re-exported

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
    "auth": "KNOXHOOK_AUTH",  # "oauth" (default) or "legacy" (Knox Guard: knoxhook.legacy)
    "api_version": "KNOXHOOK_API_VERSION",  # legacy profiles: "v0.1" (default) or "v1"
}
PROFILE_KEYS: Final = (*ENV_VARS, "secret_store", "region")
ALLOW_HTTP_ENV: Final = "KNOXHOOK_ALLOW_HTTP"
ALLOW_HTTP_KEY: Final = "allow_http"  # a TOML boolean in the profile's table
TIMEOUT_ENV: Final = "KNOXHOOK_TIMEOUT"
TIMEOUT_KEY: Final = "timeout"  # a TOML number in the profile's table
DEFAULT_TIMEOUT: Final = 30.0
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"", "0", "false", "no", "off"})


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
    auth: str = "oauth"  # "legacy": keys.json + Client Identifier (knoxhook.legacy)
    api_version: str | None = None  # legacy: where KWN lives, wire.LEGACY_API_VERSIONS
    region: str | None = None  # legacy: the portal region the host came from (us, eu)
    allow_http: bool = False  # plain http:// to a remote host explicitly allowed
    timeout: float | None = None  # seconds: --timeout > env > profile; None: the default

    @property
    def kwn_prefix(self) -> str:
        """``/kwn/v1``; for a legacy profile ``/kcs/kwn/v0.1`` unless api_version is v1."""
        if self.auth != "legacy":
            return wire.KWN_PREFIX
        return wire.LEGACY_API_VERSIONS[self.api_version or wire.LEGACY_DEFAULT_API_VERSION]

    def source_of(self, key: str) -> str:
        """Where ``key`` came from, for a message: ``--base-url``, ``KNOXHOOK_BASE_URL``,
        ``base_url in profile 'x' (config.toml)``, or ``base_url`` (the default)."""
        source = (self.sources or {}).get(key, "")
        flag = "--" + key.replace("_", "-")
        env = {ALLOW_HTTP_KEY: ALLOW_HTTP_ENV, TIMEOUT_KEY: TIMEOUT_ENV}.get(key)
        env = env or ENV_VARS.get(key, key)
        return {
            "flag": flag,
            "env": env,
            "profile": f"{key} in profile {self.profile!r} ({CONFIG_FILE})",
        }.get(source, key)

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
        fh = path.open("rb")
    except FileNotFoundError:
        return {}  # the usual case in CI (env vars only): no TOML parser to import
    except OSError as exc:
        raise UsageError(
            f"cannot read {path}: {exc}", hint="fix or remove the file, then run again"
        ) from exc
    import tomllib  # ~2 ms, paid only when there is a file to parse

    try:
        with fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:  # TOML is UTF-8
        raise UsageError(
            f"cannot read {path}: {exc}", hint="fix or remove the file, then run again"
        ) from exc


def _profiles(document: dict[str, Any], directory: Path) -> dict[str, Any]:
    """The ``[profiles]`` table of a parsed config (a usage error when it is something else)."""
    profiles = document.setdefault("profiles", {})
    if not isinstance(profiles, dict):
        raise UsageError(
            f"'profiles' in {directory / CONFIG_FILE} is not a table",
            hint="fix or remove the file, then run again",
        )
    return profiles


def _allow_http(
    flag: bool, env: Mapping[str, str], table: Mapping[str, Any], where: str
) -> tuple[bool, str]:
    """(allowed, source): the flag, else ``KNOXHOOK_ALLOW_HTTP``, else the profile key."""
    if flag:
        return True, "flag"
    raw = env.get(ALLOW_HTTP_ENV)
    if raw is not None and raw.strip().lower() not in _FALSE:
        if raw.strip().lower() not in _TRUE:
            raise UsageError(
                f"{ALLOW_HTTP_ENV}={raw!r} is not a yes/no value", hint="set it to 1 or 0"
            )
        return True, "env"
    value = table.get(ALLOW_HTTP_KEY)
    if value is None or value is False:
        return False, "default"
    if value is not True:
        raise UsageError(
            f"{ALLOW_HTTP_KEY} in {where} must be true or false, not {value!r}",
            hint=f"write {ALLOW_HTTP_KEY} = true (a TOML boolean, no quotes)",
        )
    return True, "profile"


def parse_timeout(value: object, where: str) -> float:
    """Seconds from ``--timeout``, ``KNOXHOOK_TIMEOUT`` or a profile's ``timeout``
    (``where`` names it); a usage error unless a positive, finite number. 0 would mean
    "no time at all" to httpx2 and a negative or NaN one nothing sensible."""
    import math

    seconds = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value.strip())
        except ValueError:
            seconds = None
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(
            f"{where} {value!r} is not a positive number of seconds",
            hint="e.g. --timeout 10 (or KNOXHOOK_TIMEOUT=10, or timeout = 10 in the profile)",
        )
    return seconds


def _timeout(
    flag: float | None, env: Mapping[str, str], table: Mapping[str, Any], where: str
) -> tuple[float | None, str]:
    """(seconds, source): the flag (checked by the CLI), else the env, else the profile."""
    if flag is not None:
        return flag, "flag"
    raw = env.get(TIMEOUT_ENV)
    if raw:
        return parse_timeout(raw, TIMEOUT_ENV), "env"
    value = table.get(TIMEOUT_KEY)
    if value is None:
        return None, "default"
    if isinstance(value, str):  # a quoted number: say how TOML writes one
        raise UsageError(
            f"{TIMEOUT_KEY} in {where} must be a number, not the string {value!r}",
            hint=f"write {TIMEOUT_KEY} = 10 (a TOML number, no quotes)",
        )
    return parse_timeout(value, f"{TIMEOUT_KEY} in {where}"), "profile"


def load_settings(
    profile: str | None = None,
    overrides: Mapping[str, str | None] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    allow_http: bool = False,
    timeout: float | None = None,
) -> Settings:
    """Resolve settings: flag (``overrides``, ``allow_http``, ``timeout``) > env >
    profile > default (module docstring). ``allow_http`` is the ``--allow-http`` flag:
    True when given; ``timeout`` the ``--timeout`` flag's seconds (None: not given)."""
    env = os.environ if env is None else env
    overrides = overrides or {}
    cdir, kdir = config_dir(env), cache_dir(env)
    document = read_config(cdir)
    if profile is not None:
        name, source = profile, "--profile"
    elif env.get("KNOXHOOK_PROFILE"):
        name, source = env["KNOXHOOK_PROFILE"], "KNOXHOOK_PROFILE"
    else:
        name = str(document.get("default_profile") or DEFAULT_PROFILE)
        source = f"default_profile in {cdir / CONFIG_FILE}"
    check_profile_name(name, source)  # 'bad name!' is never an empty profile
    table = _profiles(document, cdir).get(name, {})
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

    auth, api_version = values["auth"] or "oauth", values["api_version"]
    if auth not in ("oauth", "legacy") or api_version not in (None, *wire.LEGACY_API_VERSIONS):
        bad = "auth" if auth not in ("oauth", "legacy") else "api_version"
        raise UsageError(
            f"unknown {bad} {values[bad]!r} (from {sources[bad]})",
            hint="auth is oauth or legacy; api_version is " + " or ".join(wire.LEGACY_API_VERSIONS),
        )
    # A legacy profile's host is the regional Knox Cloud Authentication one [doc].
    region_host = wire.LEGACY_REGIONS.get(values["region"] or wire.LEGACY_DEFAULT_REGION)
    default_base = (region_host or wire.LEGACY_US_HOST) if auth == "legacy" else None
    base_url = (values["base_url"] or default_base or wire.DEFAULT_BASE_URL).rstrip("/")
    token_url = values["token_url"] or base_url + wire.TOKEN_PATH
    if values["token_url"] is None and sources["base_url"] != "default":
        sources["token_url"] = sources["base_url"]
    where = f"profile {name!r} ({cdir / CONFIG_FILE})"
    allowed, sources[ALLOW_HTTP_KEY] = _allow_http(allow_http, env, table, where)
    seconds, sources[TIMEOUT_KEY] = _timeout(timeout, env, table, where)
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
        auth=auth,
        api_version=api_version,
        region=values["region"],
        allow_http=allowed,
        timeout=seconds,
    )


# --- names and writing (the edits themselves: knoxhook.profiles) -----------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def check_profile_name(name: str, source: str = "") -> str:
    """Profile names are TOML bare keys (letters, digits, ``-``, ``_``): safe as file
    names too. ``source`` (``--profile``, ``KNOXHOOK_PROFILE``...) is named in the error."""
    if not _BARE_KEY.match(name):
        where = f" ({source})" if source else ""
        raise UsageError(
            f"invalid profile name {name!r}{where}: a profile name is letters, digits, "
            "'-' and '_' only",
            hint="see the profiles with `knoxhook auth list`",
        )
    return name


def save_profile(
    directory: Path,
    name: str,
    values: Mapping[str, str | None],
    *,
    make_default: bool = False,
) -> Path:
    """Merge ``values`` into ``[profiles.NAME]``, keeping the file's comments
    (``knoxhook.profiles.save_profile``; tomlkit is imported only to write)."""
    from knoxhook import profiles

    return profiles.save_profile(directory, name, values, make_default=make_default)


def set_default_profile(directory: Path, name: str) -> Path:
    """``knoxhook.profiles.set_default_profile``."""
    from knoxhook import profiles

    return profiles.set_default_profile(directory, name)


def list_profiles(directory: Path) -> list[str]:
    """Names of the profiles in ``config.toml``, sorted."""
    profiles = read_config(directory).get("profiles", {})
    return sorted(profiles) if isinstance(profiles, dict) else []


def profile_values(directory: Path, name: str) -> dict[str, str]:
    """The raw ``[profiles.NAME]`` table (empty when the profile does not exist)."""
    table = read_config(directory).get("profiles", {}).get(name, {})
    return {k: str(v) for k, v in table.items()} if isinstance(table, dict) else {}

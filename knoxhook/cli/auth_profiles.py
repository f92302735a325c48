"""``knoxhook auth list`` and ``auth logout --forget``: the profiles, and removing one.

Attached to the ``auth`` group by ``cli/auth.py``. One design for removal: ``auth logout``
forgets the credentials and keeps the profile's settings; ``auth logout --forget`` also
removes the profile itself: its ``[profiles.NAME]`` table in config.toml (the rest of the
file, comments included, stays: ``knoxhook.profiles``), its secret (keyring and file),
its Knox Guard keys and identifier, and every cached token of the profile. Off a terminal
it needs ``--yes``. Never prints a secret: only where each one lives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from knoxhook.cli import checks, clients, context, display
from knoxhook.timestamps import rfc3339

if TYPE_CHECKING:
    from knoxhook.config import Settings

LIST_COLUMNS = [
    ("profile", "profile"),
    ("default", "default"),
    ("auth", "auth"),
    ("base_url", "base URL"),
    ("client_id", "client id"),
    ("secret_source", "secret"),
    ("token_cached", "token"),
]


def stored_settings(name: str) -> Settings:
    """The profile as config.toml has it: the KNOXHOOK_* settings variables of this shell
    (a CI job's KNOXHOOK_BASE_URL) would make every profile look the same."""
    import os

    from knoxhook.config import load_settings

    keep = ("KNOXHOOK_CONFIG_DIR", "KNOXHOOK_CACHE_DIR")
    return load_settings(profile=name, env={k: os.environ[k] for k in keep if k in os.environ})


def describe(settings: Settings, *, default: bool) -> dict[str, Any]:
    """One row of ``auth list``: where the secret lives and whether a token is cached."""
    import time

    from knoxhook import credentials, tokens

    if settings.auth == "legacy":
        from knoxhook.legacy import cache, store

        location = store.locate(settings)
        token = cache.read_cached(settings)
    else:
        location = credentials.locate_secret(settings)
        token = tokens.read_cached(settings)
    valid = token is not None and token.expires_at > time.time()
    return {
        "profile": settings.profile,
        "default": default,
        "auth": settings.auth,
        "base_url": settings.base_url,
        "client_id": settings.client_id,
        "secret_source": location.kind,
        "secret_location": location.detail,
        "token_cached": valid,
        "token_expires_at": rfc3339(token.expires_at) if token and valid else None,
    }


def list_profiles(
    json_flag: context.JsonOption = False, output: context.OutputOption = None
) -> None:
    """List the profiles in config.toml: which is the default, where each one's secret
    lives (keyring, file, env) and whether it has a cached token. Never a secret.

    JSON: a list of {profile, default, auth, base_url, client_id, secret_source,
    secret_location, token_cached, token_expires_at}.

    Examples:

    \b
      knoxhook auth list
      knoxhook auth list --json | jq -r '.[].profile'
    """
    from knoxhook import config

    fmt = context.output_format(json_flag, output)
    directory = config.config_dir()
    document = config.read_config(directory)
    default = str(document.get("default_profile") or config.DEFAULT_PROFILE)
    rows = [
        describe(stored_settings(name), default=name == default)
        for name in config.list_profiles(directory)
    ]
    if not rows and fmt not in context.MACHINE_FORMATS:
        where = directory / config.CONFIG_FILE
        display.info(f"no profiles in {where}; create one with `knoxhook auth login`")
    display.emit(rows, columns=LIST_COLUMNS, fmt=fmt)


def forget(settings: Settings, *, yes: bool, fmt: context.OutputFormat) -> None:
    """``auth logout --forget``: revoke (OAuth), then remove everything of the profile."""
    from knoxhook import config, credentials, profiles, tokens
    from knoxhook.errors import KnoxhookError, UsageError
    from knoxhook.legacy import store

    settings = stored_settings(settings.profile)  # its own client id names the keyring entry
    name = settings.profile
    exists = name in config.list_profiles(settings.config_dir)
    if not yes:
        if not context.current().may_prompt:
            raise UsageError(
                f"refusing to forget profile {name!r} without confirmation: not a terminal",
                hint="pass --yes to forget it without asking",
            )
        if not display.confirm(
            f"Forget profile {name!r}: its settings, its stored secret and its cached tokens?"
        ):
            raise UsageError("nothing was forgotten", hint="run again and answer y")
    revoked = False
    had_token = settings.auth != "legacy" and tokens.read_cached(settings) is not None
    if had_token:
        try:
            checks.check_urls(settings)  # the revoke sends the token: not over plain http
            revoked = clients.token_manager(settings).revoke()
        except KnoxhookError as exc:
            display.warn(f"could not revoke the token at Knox: {exc.message}")
    removed = list(dict.fromkeys([*credentials.delete_secret(settings), *store.delete(settings)]))
    deleted_tokens = tokens.forget_profile_tokens(settings) + int(had_token)
    table_removed = profiles.remove_profile(settings.config_dir, name) if exists else False
    if not (table_removed or removed or deleted_tokens):
        display.info(f"Nothing to do: no profile {name!r}, and nothing stored for it.")
    else:
        display.info(f"Forgot profile {name}.")
    display.emit(
        {
            "profile": name,
            "profile_removed": table_removed,
            "token_revoked": revoked,
            "tokens_deleted": deleted_tokens,
            "secret_deleted": removed,
        },
        fmt=fmt,
    )

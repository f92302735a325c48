"""``knoxhook auth``: log in (profile + secret + first token), status, token, logout.

Heavy modules (httpx2, authlib, keyring, rich) are imported inside the commands.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from knoxhook.cli import auth_profiles, checks, clients, context, display, registry
from knoxhook.credentials import ENV_SECRET
from knoxhook.errors import (
    AuthenticationError,
    KnoxhookError,
    NotConfiguredError,
    TransportError,
    UsageError,
)
from knoxhook.timestamps import rfc3339

if TYPE_CHECKING:
    from knoxhook.config import Settings

auth_app = registry.group(
    "auth",
    "Log in to Knox (client credentials), inspect and print tokens, log out.\n\n"
    "Examples:\n\n\b\n"
    '  printf %s "$KNOX_SECRET" | knoxhook auth login --client-id ID --client-secret-stdin\n'
    "  knoxhook auth status --json\n"
    "  knoxhook auth list\n"
    '  curl -H "Authorization: Bearer $(knoxhook auth token)" ...',
)

_SAVED_KEYS = ("base_url", "token_url", "client_id", "scope", "tenant_id")


def _read_secret(from_stdin: bool) -> str:
    """--client-secret-stdin, else the env var, else a hidden prompt on a TTY."""
    return checks.read_secret_value(
        "client secret",
        flag="--client-secret-stdin",
        env=ENV_SECRET,
        from_stdin=from_stdin,
        pipe_hint='pipe the secret in: printf %s "$KNOX_SECRET" | knoxhook auth login '
        "--client-id ID --client-secret-stdin",
        never="the secret is never accepted as a plain argument",
        strip=False,
    )


def _status(settings: Settings) -> dict[str, Any]:
    from knoxhook import credentials, tokens

    location = credentials.locate_secret(settings)
    token = tokens.read_cached(settings)
    now = time.time()
    valid = token is not None and token.expires_at > now
    return {
        "profile": settings.profile,
        "base_url": settings.base_url,
        "token_url": settings.token_url,
        "client_id": settings.client_id,
        "scope": settings.scope,
        "tenant_id": settings.tenant_id,
        "secret_source": location.kind,
        "secret_location": location.detail,
        "token_cached": valid,
        "token_expires_at": rfc3339(token.expires_at) if token and valid else None,
        "token_expires_in": int(token.expires_in(now)) if token and valid else None,
    }


@auth_app.command("login")
def login(
    client_id: Annotated[
        str | None, typer.Option("--client-id", help="OAuth client id (env KNOXHOOK_CLIENT_ID).")
    ] = None,
    client_secret_stdin: Annotated[
        bool,
        typer.Option("--client-secret-stdin", help="Read the client secret from stdin."),
    ] = False,
    scope: Annotated[
        str | None, typer.Option("--scope", help="Token scope(s), space-separated.")
    ] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="Knox API host root.")] = None,
    token_url: Annotated[
        str | None, typer.Option("--token-url", help="OAuth token endpoint.")
    ] = None,
    tenant_id: Annotated[
        str | None, typer.Option("--tenant-id", help="Managed tenant (x-wsm-managed-tenantid).")
    ] = None,
    insecure_storage: Annotated[
        bool,
        typer.Option(
            "--insecure-storage",
            help="Store the secret in a 0600 file in the config dir instead of the OS keyring.",
        ),
    ] = False,
    keys: Annotated[
        Path | None,
        typer.Option(
            "--keys",
            metavar="KEYS.json",
            help="Knox Guard (legacy Knox Cloud Authentication): the keys.json or "
            "certificate.json from the Knox Cloud API portal (env KNOXHOOK_KEYS_FILE).",
            show_default=False,
        ),
    ] = None,
    client_identifier_stdin: Annotated[
        bool,
        typer.Option(
            "--client-identifier-stdin",
            help="With --keys: read the Client Identifier from stdin (else "
            "KNOXHOOK_CLIENT_IDENTIFIER, else a hidden prompt).",
        ),
    ] = False,
    region: Annotated[
        str | None,
        typer.Option("--region", metavar="us|eu", help="With --keys: the portal's region."),
    ] = None,
    api_version: Annotated[
        str | None,
        typer.Option(
            "--api-version", metavar="v0.1|v1", help="With --keys: where KWN lives (v0.1)."
        ),
    ] = None,
    validity: Annotated[
        int | None,
        typer.Option("--validity", metavar="MINUTES", help="With --keys: token life, 1-30."),
    ] = None,
    json_flag: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """Save a profile, store its client secret, and prove it by fetching a token.

    The secret goes to the OS keyring (or, with --insecure-storage, to a 0600 file).
    It is read from --client-secret-stdin, else KNOXHOOK_CLIENT_SECRET, else a hidden
    prompt on a terminal; never from a plain argument. Nothing is saved unless Knox
    accepts the credentials (exit 4 when it refuses them).

    Knox Guard customers (no OAuth): --keys keys.json, with the Client Identifier from
    --client-identifier-stdin, KNOXHOOK_CLIENT_IDENTIFIER or a hidden prompt. Both are
    stored like the secret; the profile gets auth = "legacy" (docs/configuration.md).

    Examples:

      printf '%s' "$SECRET" | knoxhook auth login --client-id my-client --client-secret-stdin
      printf '%s' "$IDENTIFIER" | knoxhook auth login --keys keys.json --client-identifier-stdin
    """
    import dataclasses

    from knoxhook import config, credentials, wire
    from knoxhook.cli import legacy_auth

    fmt = context.output_format(json_flag, output)
    if legacy_auth.wants_legacy(keys, client_id):
        return legacy_auth.login(
            keys=keys, identifier_stdin=client_identifier_stdin, region=region,
            base_url=base_url, api_version=api_version, tenant_id=tenant_id,
            validity=validity, insecure_storage=insecure_storage, fmt=fmt,
        )  # fmt: skip
    checks.require_text(
        client_id=client_id,
        scope=scope,
        base_url=base_url,
        token_url=token_url,
        tenant_id=tenant_id,
    )
    settings = clients.settings(
        client_id=client_id,
        scope=scope,
        base_url=base_url,
        token_url=token_url,
        tenant_id=tenant_id,
    )
    config.check_profile_name(settings.profile)
    # A new base URL without a token URL: the token URL follows it (a token_url the
    # profile kept from an earlier host must not win, nor be saved again).
    sources = dict(settings.sources or {})
    derived_token_url = (
        token_url is None
        and not os.environ.get("KNOXHOOK_TOKEN_URL")
        and sources.get("base_url") in ("flag", "env")
    )
    if derived_token_url:
        settings = dataclasses.replace(settings, token_url=settings.base_url + wire.TOKEN_PATH)
    checks.check_urls(settings)
    if not settings.client_id:
        if not context.current().may_prompt:
            raise UsageError(
                "no client id given", hint="pass --client-id or set KNOXHOOK_CLIENT_ID"
            )
        entered = str(typer.prompt("Client id", err=True)).strip()
        settings = dataclasses.replace(settings, client_id=entered or None)
        if not settings.client_id:
            raise UsageError("no client id given", hint="pass --client-id")
    secret = _read_secret(client_secret_stdin)
    credentials.check_storage(insecure_file=insecure_storage)  # fail before the network

    manager = clients.token_manager(settings, secret=secret)
    try:
        token = manager.refresh()
    except (AuthenticationError, TransportError) as exc:
        exc.hint = f"Nothing was saved; {exc.hint or 'try again'}"
        raise

    previous = config.load_settings(profile=settings.profile)
    if previous.client_id and previous.client_id != settings.client_id:
        credentials.delete_secret(previous)  # the old client's secret must not linger
    where = credentials.store_secret(settings, secret, insecure_file=insecure_storage)
    values: dict[str, str | None] = {
        key: getattr(settings, key) for key in _SAVED_KEYS if sources.get(key) in ("flag", "env")
    }
    if derived_token_url:
        values["token_url"] = None  # derived from base_url: not stored
    values["client_id"] = settings.client_id
    values["secret_store"] = where
    first = not config.read_config(settings.config_dir).get("default_profile")
    config.save_profile(settings.config_dir, settings.profile, values, make_default=first)

    saved = config.load_settings(profile=settings.profile)
    status = _status(saved)
    if where == credentials.FILE_STORE:
        display.warn(f"the client secret is stored unencrypted in {status['secret_location']}")
    display.info(
        f"Logged in to {saved.base_url} as {saved.client_id} (profile {saved.profile}); "
        f"token valid until {rfc3339(token.expires_at)}."
    )
    display.emit(status, fmt=fmt)


@auth_app.command("status")
def status(json_flag: context.JsonOption = False, output: context.OutputOption = None) -> None:
    """Show the profile, URLs, where the secret lives and the cached token's expiry.

    Never shows the secret or the token. Exits 3 when the profile has no client id or
    no secret can be found (after printing what is known).

    Example:

      knoxhook auth status --json
    """
    fmt = context.output_format(json_flag, output)
    settings = clients.settings()
    if settings.auth == "legacy":
        from knoxhook.cli import legacy_auth

        return legacy_auth.status(settings, fmt)
    data = _status(settings)
    display.emit(data, fmt=fmt)  # what is known, then why it is not enough
    if not settings.client_id:
        _require_profile(settings)
    if not settings.client_id or data["secret_source"] == "none":  # noqa: S105
        missing = "client id" if not settings.client_id else "client secret"
        raise NotConfiguredError(
            f"profile {settings.profile!r} has no {missing}",
            hint="run `knoxhook auth login`",
        )


def _require_profile(settings: Settings) -> None:
    """A profile named by --profile or KNOXHOOK_PROFILE that config.toml does not have
    (and the environment does not stand in for): say so, not "has no client id"."""
    from knoxhook import config

    named = context.current().profile is not None or os.environ.get("KNOXHOOK_PROFILE")
    if not named or settings.profile in config.list_profiles(settings.config_dir):
        return  # the implicit default profile: "has no client id; run auth login" says it
    raise NotConfiguredError(
        f"profile {settings.profile!r} does not exist (not in "
        f"{settings.config_dir / config.CONFIG_FILE})",
        hint="see the profiles with `knoxhook auth list`; create one with "
        f"`knoxhook --profile {settings.profile} auth login`",
    )


@auth_app.command("token")
def token(json_flag: context.JsonOption = False, output: context.OutputOption = None) -> None:
    """Print a valid access token (the cached one, or a new one) for use with curl.

    Only the token goes to stdout. With --json: access_token, token_type, expires_at.

    Example:

      curl -H "Authorization: Bearer $(knoxhook auth token)" https://api.samsungknox.com/kwn/v1/subscriptions
    """
    fmt = context.output_format(json_flag, output)
    resolved = checks.check_urls(clients.settings())
    if resolved.auth == "legacy":
        from knoxhook.cli import legacy_auth

        return legacy_auth.token(resolved, fmt)
    with clients.secret_env_hint():
        current = clients.token_manager(resolved).get()
    if fmt is context.OutputFormat.TABLE:
        sys.stdout.write(current.access_token + "\n")
        sys.stdout.flush()
        return
    display.emit(
        {
            "access_token": current.access_token,
            "token_type": current.token_type,
            "expires_at": rfc3339(current.expires_at),
        },
        fmt=fmt,
    )


@auth_app.command("logout")
def logout(
    forget: Annotated[
        bool,
        typer.Option(
            "--forget",
            help="Also remove the profile: its config.toml table, Knox Guard keys and "
            "every cached token of it (asks first; --yes off a terminal).",
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="With --forget: do not ask for confirmation.")
    ] = False,
    json_flag: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """Revoke the cached token at Knox, delete it, and delete the stored secret.

    The profile's other settings stay, unless --forget: then the profile itself goes
    too (its table in config.toml, whose other content and comments stay as they are).
    Safe to run twice. A revoke that fails (network) is reported as a warning; the local
    token and secret are deleted anyway.

    JSON: {profile, token_revoked, token_deleted, secret_deleted}; with --forget
    {profile, profile_removed, token_revoked, tokens_deleted, secret_deleted}.

    Examples:

    \b
      knoxhook --profile staging auth logout
      knoxhook --profile old auth logout --forget --yes
    """
    from knoxhook import config, credentials, tokens

    fmt = context.output_format(json_flag, output)
    settings = clients.settings()
    if forget:
        return auth_profiles.forget(settings, yes=yes, fmt=fmt)
    if yes:
        raise UsageError("--yes goes with --forget", hint="knoxhook auth logout --forget --yes")
    if settings.auth == "legacy":
        from knoxhook.cli import legacy_auth

        return legacy_auth.logout(settings, fmt)
    manager = clients.token_manager(settings)
    had_token = tokens.read_cached(settings) is not None
    revoked = False
    try:
        if had_token:
            checks.check_urls(settings)  # the revoke sends the token: not over plain http
        revoked = manager.revoke()
    except KnoxhookError as exc:
        display.warn(f"could not revoke the token at Knox: {exc.message}")
    manager.invalidate()
    removed = credentials.delete_secret(settings)
    if settings.secret_store and settings.profile in config.list_profiles(settings.config_dir):
        config.save_profile(settings.config_dir, settings.profile, {"secret_store": None})
    if not had_token and not removed:
        display.info(f"Nothing to do: profile {settings.profile} holds no token and no secret.")
    else:
        display.info(f"Logged out of profile {settings.profile}.")
    if os.environ.get(ENV_SECRET):
        display.warn(f"{ENV_SECRET} is still set in the environment")
    display.emit(
        {
            "profile": settings.profile,
            "token_revoked": revoked,
            "token_deleted": had_token,
            "secret_deleted": removed,
        },
        fmt=fmt,
    )


# `auth list` lives in its own module (with `logout --forget`); attached here.
auth_app.command("list")(auth_profiles.list_profiles)

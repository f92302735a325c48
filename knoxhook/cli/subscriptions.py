"""``knoxhook subscribe`` and ``knoxhook subscriptions list|get|update|delete``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from knoxhook.cli import checks, clients, context, display, registry, shaping

if TYPE_CHECKING:
    from knoxhook.subscriptions import Subscription, SubscriptionService

COLUMNS = [
    ("subscriptionId", "ID"),
    ("url", "URL"),
    ("events", "Events"),
    ("createdAt", "Created"),
    ("updatedAt", "Updated"),
]
NARROW_DROP = ("updatedAt", "createdAt")  # what a narrow terminal leaves out first
# the JSON keys of subscribe/update and of delete: --fields is checked against them
# before the request (a typo must not be found after the change was made)
CHANGED_KEYS = (*(key for key, _ in COLUMNS), "changed")
DELETED_COLUMNS = [("subscriptionId", "ID"), ("deleted", "Deleted"), ("outcome", "Outcome")]

subscribe_app = registry.command()
subs_app = registry.group(
    "subscriptions",
    "List, show, update and delete KWN subscriptions (create one with `subscribe`).\n\n"
    "Examples:\n\n\b\n"
    "  knoxhook subscriptions list --json\n"
    "  knoxhook subscriptions update ID --add-event KG_DEVICE_LOCKED\n"
    "  knoxhook subscriptions delete ID --yes",
)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        metavar="URL",
        help="Callback URL (https; http to loopback, or with --allow-http-callback).",
        show_default=False,
    ),
]
EventsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--event",
        "-e",
        metavar="EVENT",
        help="Event name; repeat for several (see `knoxhook events`).",
        show_default=False,
    ),
]
# Two different permissions, two names: this one is for the callback URL Knox will post
# to; the global `knoxhook --allow-http` (cli/main.py) is for Knox's own URLs, which
# carry the client secret. `--allow-http` after the command was this one's old name.
AllowHttpCallbackOption = Annotated[
    bool,
    typer.Option(
        "--allow-http-callback",
        help="Allow a plain http:// callback URL to a host that is not this machine: Knox "
        "then posts device data unencrypted (not the global --allow-http).",
    ),
]
OldAllowHttpOption = Annotated[
    bool, typer.Option("--allow-http", hidden=True, help="Old name of --allow-http-callback.")
]
RENAMED = (
    "`--allow-http` after the command is now `--allow-http-callback` (a plain http:// "
    "callback URL); the global `knoxhook --allow-http` is for Knox's own URLs"
)


def _callback_url(url: str | None, allow: bool, old_allow: bool) -> tuple[str | None, bool]:
    """The checked callback URL (None: not given) and whether plain http to a remote
    host is allowed (``--allow-http-callback``, or its old spelling with a warning). A
    refusal while only the global --allow-http was given says that this is another flag."""
    from knoxhook.errors import UsageError
    from knoxhook.subscriptions import validate_url

    if old_allow:
        display.warn(RENAMED)
    allow = allow or old_allow
    if url is None:
        return None, allow
    try:
        return validate_url(url, allow_http=allow), allow
    except UsageError as exc:
        if allow or not context.current().allow_http:
            raise
        raise UsageError(
            exc.message,
            hint="the global --allow-http is for Knox's own URLs; for a callback URL "
            "add --allow-http-callback after the command",
        ) from None


# What to do next, for the refusals people hit most (Knox's own message says what).
_HINTS = {
    "EVENT_ALREADY_SUBSCRIBED": "an event belongs to one subscription at a time: remove it "
    "there first (knoxhook subscriptions update ID --remove-event EVENT), or update that one",
    "SUBSCRIPTION_NOT_FOUND": "see the ids with `knoxhook subscriptions list`",
}


@contextmanager
def _service() -> Iterator[SubscriptionService]:
    from knoxhook.errors import ApiError
    from knoxhook.subscriptions import SubscriptionService

    try:
        with clients.knox_client() as client:
            yield SubscriptionService(client)
    except ApiError as exc:
        if exc.hint is None and exc.knox_name in _HINTS:
            exc.hint = _HINTS[exc.knox_name]
        raise


def _show(sub: Subscription, fmt: context.OutputFormat, changed: bool | None = None) -> None:
    data = sub.to_json()
    if changed is not None:  # upsert / update: whether anything was sent
        data["changed"] = changed
    if display.final_format(fmt) is context.OutputFormat.TABLE:
        data["events"] = ", ".join(sub.events)
    display.emit(data, fmt=fmt)


def _shown(url: str) -> str:
    """A callback URL for a diagnostic line: its password never (cli/shaping.py)."""
    from knoxhook.httptrace import redact_url

    return redact_url(url)


@subscribe_app.command("subscribe")
def subscribe(
    url: UrlOption = None,
    event: EventsOption = None,
    allow_http_callback: AllowHttpCallbackOption = False,
    old_allow_http: OldAllowHttpOption = False,
    upsert: Annotated[
        bool,
        typer.Option("--upsert", help="Succeed if the identical subscription exists already."),
    ] = False,
    json_output: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """Subscribe a callback URL to one or more events, and print the subscription.

    Events are checked against the catalogue before any request: a typo exits 2 and
    names the closest events. An event already held by another subscription exits 5
    (Knox allows each event in at most one subscription). Plain http:// is refused
    except to loopback (127.0.0.1, ::1, localhost) unless --allow-http-callback (the
    global `knoxhook --allow-http` is another permission: Knox's own URLs). After a network
    failure the create is never blindly repeated: knoxhook first looks for it. With
    --upsert, the identical subscription (same URL, same events) existing already is
    success too ("changed": false), so a deploy script can run it every time.

    Examples:

    \b
      knoxhook subscribe --url https://hooks.example.com/knox --event KDMS_DEVICE_UPLOAD
      knoxhook subscribe --url https://hooks.example.com/kg -e KG_DEVICE_LOCKED \\
        -e KG_DEVICE_UNLOCKED --json
      knoxhook subscribe --upsert --url https://hooks.example.com/knox -e KDMS_DEVICE_UPLOAD
      knoxhook subscribe --url http://10.0.0.5:8000/knox -e KDMS_DEVICE_UPLOAD \\
        --allow-http-callback  # a lab network, unencrypted on purpose

    JSON: {subscriptionId, url, events, createdAt, updatedAt} (+ changed with --upsert).
    """
    from knoxhook.errors import UsageError
    from knoxhook.subscriptions import validate_events

    fmt = context.output_format(json_output, output)
    shaping.check_fields(CHANGED_KEYS)
    checks.require_text(url=url, event=event)
    if not url:
        raise UsageError("missing --url", hint="for example --url https://hooks.example.com/knox")
    url, allow_http = _callback_url(url, allow_http_callback, old_allow_http)
    assert url is not None
    names = validate_events(event or [])  # before any request, and before needing credentials
    with _service() as service:
        outcome = service.upsert(url, names, allow_http=allow_http) if upsert else None
        sub = outcome.subscription if outcome else service.create(url, names, allow_http=allow_http)
    done = "already subscribed" if outcome and not outcome.changed else "subscribed"
    display.info(f"{done} {_shown(sub.url)} to {', '.join(sub.events)} (id {sub.subscription_id})")
    _show(sub, fmt, None if outcome is None else outcome.changed)


@subs_app.command("list")
def list_(
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            "-e",
            metavar="EVENT",
            help="Only subscriptions with this event; repeat for any of several.",
            show_default=False,
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            metavar="TEXT",
            help="Only URLs containing TEXT, or matching it as a glob when it has * ? or [.",
            show_default=False,
        ),
    ] = None,
    json_output: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """List your subscriptions (all, or those matching --event and --url).

    Off a terminal the table is tab-separated with a header line (-o tsv), so cut and
    awk work; --fields picks the columns, --jq filters the JSON. A password in a URL
    shows as *** in table and tsv output (--show-secrets shows it; JSON is the API's).

    Examples:

    \b
      knoxhook subscriptions list
      knoxhook subscriptions list --event KDMS_DEVICE_UPLOAD --url hooks.example.com
      knoxhook subscriptions list --url 'https://*.example.com/*' --fields subscriptionId,url
      knoxhook subscriptions list --jq '.[].subscriptionId'
      knoxhook subscriptions list | cut -f1 | tail -n +2

    JSON: a list of {subscriptionId, url, events, createdAt, updatedAt}.
    """
    from knoxhook.subscriptions import matching, validate_events

    fmt = context.output_format(json_output, output)
    checks.require_text(event=event, url=url)
    events = validate_events(event) if event else ()  # a typo is exit 2, before any request
    with _service() as service:
        subs = matching(service.list(), events=events, url=url)
    display.emit([s.to_json() for s in subs], columns=COLUMNS, fmt=fmt, drop=NARROW_DROP)


@subs_app.command("get")
def get(
    subscription_id: Annotated[str, typer.Argument(metavar="ID", help="Subscription id.")],
    json_output: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """Show one subscription (exit 6 when the id is unknown).

    Example:

    \b
      knoxhook subscriptions get 63689d7e4ee2721f7b50d2b1 --json
    """
    fmt = context.output_format(json_output, output)
    checks.require_text(id=subscription_id)
    with _service() as service:
        sub = service.get(subscription_id)
    _show(sub, fmt)


@subs_app.command("update")
def update(
    subscription_id: Annotated[str, typer.Argument(metavar="ID", help="Subscription id.")],
    url: UrlOption = None,
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            "-e",
            metavar="EVENT",
            help="Replace the events with these (repeat).",
            show_default=False,
        ),
    ] = None,
    add_event: Annotated[
        list[str] | None,
        typer.Option(
            "--add-event", metavar="EVENT", help="Add this event (repeat).", show_default=False
        ),
    ] = None,
    remove_event: Annotated[
        list[str] | None,
        typer.Option(
            "--remove-event",
            metavar="EVENT",
            help="Remove this event (repeat).",
            show_default=False,
        ),
    ] = None,
    allow_http_callback: AllowHttpCallbackOption = False,
    old_allow_http: OldAllowHttpOption = False,
    json_output: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """Change a subscription's callback URL and/or its events, and print it.

    --event replaces the whole set; --add-event and --remove-event change it (one event
    in both is a usage error). Events are checked against the catalogue before any
    request. When nothing would change, nothing is sent ("changed": false). A plain
    http:// URL to a host that is not this machine needs --allow-http-callback.

    Examples:

    \b
      knoxhook subscriptions update 63689d7e4ee2721f7b50d2b1 --url https://new.example.com/k
      knoxhook subscriptions update 63689d7e4ee2721f7b50d2b1 --add-event KG_DEVICE_LOCKED

    JSON: {subscriptionId, url, events, createdAt, updatedAt, changed}.
    """
    from knoxhook.errors import UsageError
    from knoxhook.subscriptions import validate_events

    fmt = context.output_format(json_output, output)
    shaping.check_fields(CHANGED_KEYS)
    checks.require_text(
        id=subscription_id, url=url, event=event, add_event=add_event, remove_event=remove_event
    )
    if not (url or event or add_event or remove_event):
        raise UsageError(
            "nothing to update", hint="give --url, --event, --add-event or --remove-event"
        )
    url, allow_http = _callback_url(url, allow_http_callback, old_allow_http)
    for names in (event, add_event, remove_event):
        if names:
            validate_events(names)
    with _service() as service:
        outcome = service.modify(
            subscription_id,
            url=url,
            events=event or None,
            add_events=add_event or (),
            remove_events=remove_event or (),
            allow_http=allow_http,
        )
    sub = outcome.subscription
    done = "updated" if outcome.changed else "nothing to change (nothing sent) in"
    display.info(f"{done} subscription {sub.subscription_id}")
    _show(sub, fmt, outcome.changed)


@subs_app.command("delete")
def delete(
    subscription_ids: Annotated[
        list[str] | None, typer.Argument(metavar="ID...", help="Subscription ids.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Delete every subscription.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_output: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """Delete subscriptions by id, or all of them with --all.

    Asks first on a terminal; elsewhere (scripts, CI) it needs --yes, else exits 2 and
    deletes nothing. Every id is checked first: an unknown id exits 6, nothing deleted.

    Examples:

    \b
      knoxhook subscriptions delete 63689d7e4ee2721f7b50d2b1
      knoxhook subscriptions delete --all --yes --json

    Every id is reported with its outcome (deleted, already_gone, failed, skipped),
    also when one fails; the exit code is then that failure's.

    JSON: a list of {subscriptionId, deleted, outcome, error}.
    """
    from knoxhook.errors import NotFoundError, UsageError

    fmt = context.output_format(json_output, output)
    shaping.check_fields([key for key, _ in DELETED_COLUMNS])
    checks.require_text(ids=subscription_ids)
    ids = list(dict.fromkeys(i.strip() for i in subscription_ids or []))
    if all_ and ids:
        raise UsageError("give subscription ids or --all, not both")
    if not all_ and not ids:
        raise UsageError("give the subscription ids to delete, or --all", hint="see --help")
    if not yes:
        context.current().require_confirmation_possible("delete")
    with _service() as service:
        existing = {s.subscription_id for s in service.list()}
        if all_:
            ids = sorted(existing)
        unknown = [i for i in ids if i not in existing]
        if unknown:
            raise NotFoundError(
                f"no such subscription: {', '.join(unknown)} (nothing deleted)",
                status=404,
                hint="see `knoxhook subscriptions list`",
            )
        if not ids:
            display.info("no subscriptions to delete")
            if fmt is not context.OutputFormat.TABLE:  # a table would add "(none)"
                display.emit([], fmt=fmt)
            return
        if not yes and not display.confirm(f"Delete {len(ids)} subscription(s): {', '.join(ids)}?"):
            display.info("cancelled: nothing deleted")
            return
        # a 404 now is "already_gone": it was listed a moment ago (a retried DELETE whose
        # first answer was lost, or a concurrent one)
        results = service.delete_many(ids)
    deleted = sum(r.deleted for r in results)
    of = "" if deleted == len(results) else f" of {len(results)}"
    display.info(f"deleted {deleted}{of} subscription(s)")
    display.emit([r.to_json() for r in results], columns=DELETED_COLUMNS, fmt=fmt)
    failed = next((r for r in results if r.error is not None), None)
    if failed is not None and failed.error is not None:
        failed.error.message = f"{failed.subscription_id}: {failed.error.message}"
        raise failed.error

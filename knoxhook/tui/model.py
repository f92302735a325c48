"""What the TUI shows, without Textual: the data-source protocols and pure helpers.

The app never talks HTTP and never calls typer code. It is given:

- a ``SubscriptionBackend`` (``knoxhook.subscriptions.SubscriptionService`` in real
  use; anything with the same four methods in tests), called only from worker threads;
- optionally a ``CallbackSource`` that pushes callback records (dicts shaped like the
  receiver's NDJSON lines) from any thread;
- optionally a ``status`` callable returning the certificate / token status line.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from knoxhook import events as catalogue


class SubscriptionLike(Protocol):
    """The fields of ``knoxhook.subscriptions.Subscription`` the TUI reads."""

    @property
    def subscription_id(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def events(self) -> Sequence[str]: ...

    @property
    def created_at(self) -> object: ...

    @property
    def updated_at(self) -> object: ...

    def to_json(self) -> Mapping[str, Any]: ...


class SubscriptionBackend(Protocol):
    """Blocking CRUD, as ``SubscriptionService`` offers it; raises ``knoxhook.errors``."""

    def list(self) -> Sequence[SubscriptionLike]: ...

    def create(self, url: str, events: Sequence[str]) -> SubscriptionLike: ...

    def update(
        self,
        subscription_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
    ) -> SubscriptionLike: ...

    def delete(self, subscription_id: str) -> object: ...


Record = dict[str, Any]
Emit = Callable[[Record], None]


class CallbackSource(Protocol):
    """Pushes callback records to ``emit`` (from any thread) between start and stop."""

    description: str

    def start(self, emit: Emit) -> None: ...

    def stop(self) -> None: ...


def when(value: object) -> str:
    """A timestamp as a short cell: RFC 3339 strings and datetimes, seconds precision."""
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    return text.replace("T", " ")[:19] if len(text) >= 19 and text[10:11] == "T" else text


def holders(subscriptions: Iterable[SubscriptionLike]) -> dict[str, str]:
    """Event name -> id of the subscription that holds it (knox-api.md §3: one holder)."""
    held: dict[str, str] = {}
    for sub in subscriptions:
        for name in sub.events:
            held.setdefault(name, sub.subscription_id)
    return held


def catalogue_rows(held: Mapping[str, str]) -> list[tuple[str, str, str, str]]:
    """(service, event, holder-or-"free", description) for each event, grouped by service."""
    rows = []
    for service in catalogue.SERVICES:
        for event in catalogue.by_service(service):
            rows.append((service, event.name, held.get(event.name, "free"), event.description))
    return rows


def check_url(url: str) -> str:
    """The URL as the CLI checks it (``knoxhook.validation.validate_url``), or UsageError."""
    from knoxhook.validation import validate_url

    return validate_url(url)


def shown_url(url: str) -> str:
    """A callback URL as the UI shows it: a password in it as ``***`` (issue 9)."""
    from knoxhook.httptrace import redact_url

    return redact_url(url)


def subscription_json(sub: SubscriptionLike) -> str:
    """The full JSON of a subscription, for the detail pane (a URL password as ``***``)."""
    data = dict(sub.to_json())
    if isinstance(data.get("url"), str):
        data["url"] = shown_url(data["url"])
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


# what a person looks for first in a callback; then the rest (headers, certificate...)
RECORD_FIRST = (
    "received_at", "verdict", "reason", "message", "event", "subscriptionId", "nonce", "body",
)  # fmt: skip


def _parsed(body: object) -> object:
    """A JSON body given as text, parsed; anything else as it is."""
    if isinstance(body, str):
        with contextlib.suppress(ValueError):
            return json.loads(body)
    return body


def record_cells(record: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    """(time, verdict, event, subscription, nonce) of a receiver record.

    The event and subscription are the record's own: the receiver fills them in only for
    a callback whose signature verified. A rejected body's claims are not shown there (a
    forgery would read "KG_DEVICE_ENROLLED for x"); the detail pane shows its body."""
    verdict = str(record.get("verdict") or "-")
    if record.get("reason"):
        verdict += f" ({record['reason']})"
    return (
        when(record.get("received_at"))[11:] or "-",
        verdict,
        str(record.get("event") or "-"),
        str(record.get("subscriptionId") or "-"),
        str(record.get("nonce") or "-"),
    )


def record_json(record: Mapping[str, Any]) -> str:
    """A record for the detail pane; a JSON body given as text is shown parsed."""
    first = [k for k in RECORD_FIRST if k in record]
    shown = {k: record[k] for k in first} | {k: v for k, v in record.items() if k not in first}
    if "body" in shown:
        shown["body"] = _parsed(shown["body"])
    return json.dumps(shown, indent=2, ensure_ascii=False, default=str)

"""KWN subscriptions: a thin, typed CRUD service over ``KnoxClient`` (knox-api.md §3).

Inputs are checked before any request (``knoxhook.validation``: event names against
the catalogue, callback URLs). No typer, no rich: the CLI and the TUI both use this.

A create is never blindly repeated. When it fails in a way that may have reached the
server (``TransportError(ambiguous=True)``), the service lists the subscriptions and
returns one with the same URL and events if there is one; only if there is none does
it try again (bounded). An exact match that existed *before* the create is returned
too, which is the right idempotent answer: Knox lets an event belong to at most one
subscription, so a create with those events could not have succeeded anyway.

Idempotent on purpose (issue 11), so that scripts and ``knoxhook apply`` can run twice:
``upsert`` returns the identical subscription when it exists (``changed=False``);
``modify`` reads first and sends nothing when nothing would change; ``delete_many``
reports every id with its outcome, also when some fail.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from knoxhook import wire
from knoxhook.errors import ApiError, KnoxhookError, NotFoundError, TransportError, UsageError
from knoxhook.errors import MalformedResponseError as MalformedResponseError  # re-exported
from knoxhook.validation import is_loopback as is_loopback  # re-exported
from knoxhook.validation import validate_events as validate_events  # re-exported
from knoxhook.validation import validate_url as validate_url  # re-exported

if TYPE_CHECKING:
    import httpx2

CREATE_ATTEMPTS = 3  # total tries of an ambiguous create, each preceded by a look


class SubscriptionClient(Protocol):
    """What the service needs from ``knoxhook.client.KnoxClient``."""

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        idempotent: bool | None = None,
        accept: str = ...,
    ) -> httpx2.Response: ...


@dataclass(frozen=True)
class Subscription:
    """One KWN subscription: a callback URL and the events sent to it."""

    subscription_id: str
    url: str
    events: tuple[str, ...]
    created_at: str | None = None  # RFC 3339, as the server sent it
    updated_at: str | None = None

    @classmethod
    def from_wire(cls, data: Any) -> Subscription:
        """Parse the API's JSON object; ``callbackUrl`` is accepted for ``url``."""
        if not isinstance(data, Mapping):
            raise MalformedResponseError(f"expected a subscription object, got {_kind(data)}")
        sid = data.get(wire.F_SUBSCRIPTION_ID)
        url = next((data[k] for k in wire.F_URL_ALIASES if data.get(k)), None)
        events = data.get(wire.F_EVENTS)
        if not isinstance(sid, str | int) or isinstance(sid, bool) or str(sid) == "":
            raise MalformedResponseError(f"subscription without a {wire.F_SUBSCRIPTION_ID!r}")
        if not isinstance(url, str):
            raise MalformedResponseError(f"subscription {sid} has no callback URL")
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise MalformedResponseError(f"subscription {sid} has no list of events")
        return cls(
            subscription_id=str(sid),
            url=url,
            events=tuple(events),
            created_at=_opt_str(data.get(wire.F_CREATED_AT)),
            updated_at=_opt_str(data.get(wire.F_UPDATED_AT)),
        )

    def to_json(self) -> dict[str, Any]:
        """The wire keys; these are the stable ``--json`` keys."""
        return {
            wire.F_SUBSCRIPTION_ID: self.subscription_id,
            wire.F_URL: self.url,
            wire.F_EVENTS: list(self.events),
            wire.F_CREATED_AT: self.created_at,
            wire.F_UPDATED_AT: self.updated_at,
        }

    def matches(self, url: str, events: Iterable[str]) -> bool:
        """Same callback URL (ignoring a trailing slash) and the same set of events."""
        return self.url.rstrip("/") == url.rstrip("/") and set(self.events) == set(events)


@dataclass(frozen=True)
class Outcome:
    """A subscription after a write that may not have been needed."""

    subscription: Subscription
    changed: bool  # False: it was already so, nothing was sent

    def to_json(self) -> dict[str, Any]:
        return {**self.subscription.to_json(), "changed": self.changed}


@dataclass(frozen=True)
class Deletion:
    """What happened to one id of ``delete_many``."""

    subscription_id: str
    outcome: str  # "deleted" | "already_gone" | "failed" | "skipped" (not tried)
    error: KnoxhookError | None = None

    @property
    def deleted(self) -> bool:
        return self.outcome in ("deleted", "already_gone")

    def to_json(self) -> dict[str, Any]:
        error = None
        if self.error is not None:
            error = {"code": self.error.code, "message": self.error.message}
        return {
            wire.F_SUBSCRIPTION_ID: self.subscription_id,
            "deleted": self.deleted,
            "outcome": self.outcome,
            "error": error,
        }


def matching(
    subscriptions: Iterable[Subscription], *, events: Iterable[str] = (), url: str | None = None
) -> builtins.list[Subscription]:
    """The subscriptions holding any of ``events`` (each event has one holder, so "all
    of" would rarely match) whose URL contains ``url``, or matches it as a glob
    (``fnmatch``, case-sensitive) when it has ``*``, ``?`` or ``[``. No filter: all."""
    from fnmatch import fnmatchcase

    wanted = set(events)
    chosen = []
    for sub in subscriptions:
        if wanted and not wanted.intersection(sub.events):
            continue
        if url and not (
            fnmatchcase(sub.url, url) if any(c in url for c in "*?[") else url in sub.url
        ):
            continue
        chosen.append(sub)
    return chosen


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _kind(value: Any) -> str:
    return type(value).__name__


def _json(response: httpx2.Response) -> Any:
    """The JSON body of a 2xx answer; MalformedResponseError when it is not JSON."""
    from knoxhook.httperrors import json_body

    return json_body(response)


def _id_path(subscription_id: str) -> str:
    sid = subscription_id.strip()
    if not sid:
        raise UsageError("a subscription id must not be empty")
    return wire.subscription_path(quote(sid, safe=""))


# --- the service ------------------------------------------------------------------------


class SubscriptionService:
    """CRUD over ``/kwn/v1/subscriptions`` (stripe-python ``WebhookEndpointService`` style).

    Errors are the client's: NotFoundError (unknown id, exit 6), ApiError (refused,
    exit 5, e.g. an event held by another subscription), TransportError (exit 7),
    AuthenticationError (exit 4); UsageError for bad input, raised before any request.
    """

    def __init__(self, client: SubscriptionClient) -> None:
        self._client = client

    def list(self) -> list[Subscription]:
        """Every subscription of the customer, in the server's order."""
        data = _json(self._client.request("GET", wire.subscriptions_path()))
        if not isinstance(data, list):
            raise MalformedResponseError(f"expected a list of subscriptions, got {_kind(data)}")
        return [Subscription.from_wire(item) for item in data]

    def get(self, subscription_id: str) -> Subscription:
        response = self._client.request("GET", _id_path(subscription_id))
        return Subscription.from_wire(_json(response))

    def find(self, url: str, events: Iterable[str]) -> Subscription | None:
        """The subscription with this URL and exactly these events, if any."""
        wanted = tuple(events)
        return next((s for s in self.list() if s.matches(url, wanted)), None)

    def create(self, url: str, events: Sequence[str], *, allow_http: bool = False) -> Subscription:
        """Create a subscription; safe to call after network trouble (module docstring)."""
        url = validate_url(url, allow_http=allow_http)
        names = validate_events(events)
        body = {wire.F_URL: url, wire.F_EVENTS: list(names)}
        last: TransportError | None = None
        for _ in range(CREATE_ATTEMPTS):
            if last is not None:
                existing = self._look(url, names, last)
                if existing is not None:
                    return existing
            try:
                response = self._client.request(
                    "POST", wire.subscriptions_path(), json=body, idempotent=False
                )
            except TransportError as exc:
                if not exc.ambiguous:
                    raise
                last = exc
                continue
            try:
                return Subscription.from_wire(_json(response))
            except MalformedResponseError as exc:  # Knox (or what answered) took the POST
                exc.message += "; the subscription may have been created"
                exc.hint = f"check with `knoxhook subscriptions list`; {exc.hint}"
                raise
        assert last is not None
        existing = self._look(url, names, last)
        if existing is not None:
            return existing
        raise TransportError(
            f"could not create the subscription after {CREATE_ATTEMPTS} attempts: {last.message}",
            ambiguous=False,  # we looked: it was not created
            status=last.status,
            hint="check the network and try again",
        ) from last

    def upsert(self, url: str, events: Sequence[str], *, allow_http: bool = False) -> Outcome:
        """The identical subscription (same URL, same events) if it exists, else a new one.

        Anything else holding one of the events still makes the create fail (exit 5).
        """
        url = validate_url(url, allow_http=allow_http)
        names = validate_events(events)
        existing = self.find(url, names)
        if existing is not None:
            return Outcome(existing, changed=False)
        return Outcome(self.create(url, names, allow_http=allow_http), changed=True)

    def _look(self, url: str, events: Sequence[str], cause: TransportError) -> Subscription | None:
        try:
            return self.find(url, events)
        except TransportError as exc:
            raise TransportError(
                f"{cause.message}; the subscription may or may not have been created",
                ambiguous=True,
                status=cause.status,
                hint="run `knoxhook subscriptions list` before trying again",
            ) from exc

    def update(
        self,
        subscription_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        add_events: Sequence[str] = (),
        remove_events: Sequence[str] = (),
        allow_http: bool = False,
    ) -> Subscription:
        """``modify``'s subscription (kept for callers that do not ask what changed)."""
        return self.modify(
            subscription_id,
            url=url,
            events=events,
            add_events=add_events,
            remove_events=remove_events,
            allow_http=allow_http,
        ).subscription

    def modify(
        self,
        subscription_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        add_events: Sequence[str] = (),
        remove_events: Sequence[str] = (),
        allow_http: bool = False,
    ) -> Outcome:
        """Change the URL and/or the events (replace, add, remove) of one subscription.

        The current one is read first: the API's PUT replaces the whole object, and when
        nothing would change nothing is sent (``changed=False``; the PUT would only move
        ``updatedAt``). An event both added and removed is a UsageError, before any
        request.
        """
        if url is None and events is None and not add_events and not remove_events:
            raise UsageError(
                "nothing to update", hint="give --url, --event, --add-event or --remove-event"
            )
        new_url = None if url is None else validate_url(url, allow_http=allow_http)
        replace = None if events is None else validate_events(events)
        add = validate_events(add_events) if add_events else ()
        remove = validate_events(remove_events) if remove_events else ()
        both = [e for e in add if e in remove]
        if both:
            raise UsageError(
                f"both added and removed: {', '.join(both)}",
                hint="give each event to --add-event or to --remove-event, not both",
            )
        names = [e for e in dict.fromkeys([*(replace or ()), *add]) if e not in remove]
        if replace is not None and not names:
            raise self._empty(subscription_id)
        current = self.get(subscription_id)
        new_url = new_url or current.url
        base = replace if replace is not None else current.events
        names = [e for e in dict.fromkeys([*base, *add]) if e not in remove]
        if not names:
            raise self._empty(subscription_id)
        if new_url == current.url and set(names) == set(current.events):
            return Outcome(current, changed=False)
        body = {wire.F_URL: new_url, wire.F_EVENTS: names}
        path = _id_path(subscription_id)
        response = self._client.request("PUT", path, json=body, idempotent=True)
        return Outcome(Subscription.from_wire(_json(response)), changed=True)

    @staticmethod
    def _empty(subscription_id: str) -> UsageError:
        return UsageError(
            "a subscription needs at least one event",
            hint=f"to drop them all: knoxhook subscriptions delete {subscription_id}",
        )

    def delete(self, subscription_id: str, *, missing_ok: bool = False) -> bool:
        """Delete one subscription; False if it was already gone and ``missing_ok``.

        NotFoundError when the id is unknown, unless ``missing_ok``: a DELETE that is
        retried after a lost response finds nothing the second time, and a caller that
        has just seen the id (``subscriptions delete`` lists first) wants it gone either way.
        """
        try:
            self._client.request("DELETE", _id_path(subscription_id), idempotent=True)
        except NotFoundError:
            if not missing_ok:
                raise
            return False
        return True

    def delete_many(self, subscription_ids: Sequence[str]) -> builtins.list[Deletion]:
        """Delete each id; one ``Deletion`` per id, in order, whatever happens.

        A refusal of one id (4xx) does not stop the others. A network or authentication
        failure does: the ids after it are ``skipped`` (not tried), since they would only
        fail the same way after their own retries.
        """
        results: builtins.list[Deletion] = []
        stop: KnoxhookError | None = None
        for sid in subscription_ids:
            if stop is not None:
                results.append(Deletion(sid, "skipped"))
                continue
            try:
                gone = self.delete(sid, missing_ok=True)
            except ApiError as exc:  # this id only (NotFoundError cannot happen: missing_ok)
                results.append(Deletion(sid, "failed", exc))
                continue
            except KnoxhookError as exc:
                results.append(Deletion(sid, "failed", exc))
                stop = exc
                continue
            results.append(Deletion(sid, "deleted" if gone else "already_gone"))
        return results

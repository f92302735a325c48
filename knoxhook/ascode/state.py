"""The state file: which live subscription each local name of a desired-state file is.

KWN has no name field (knox-api.md §3), so knoxhook keeps the link itself, next to the
desired-state file (``knoxhook.yaml`` -> ``knoxhook.state.json``) unless ``--state``
says elsewhere. It is what makes ``--prune`` safe (only recorded subscriptions are ever
deleted) and what tells drift (changed outside knoxhook) from a change in the file::

    {"version": 1,
     "subscriptions": {"devices": {"subscriptionId": "63689d7e4ee2721f7b50d2b1",
                                   "url": "https://hooks.example.com/knox/devices",
                                   "events": ["KDMS_DEVICE_DELETE", "KDMS_DEVICE_UPLOAD"]}}}

``url`` and ``events`` are what knoxhook last applied (or saw, when it adopted the
subscription). The file is rewritten after every step of an apply, atomically and 0600
(``knoxhook.files.write_private``), so a crash or Ctrl-C leaves a state the next plan
understands. ``locked`` keeps two applies from writing one state file at once.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knoxhook.errors import KnoxhookError, UsageError
from knoxhook.files import make_private_dirs, write_private

VERSION = 1


@dataclass(frozen=True)
class Record:
    """One local name's subscription, as knoxhook last applied or adopted it."""

    subscription_id: str
    url: str
    events: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "subscriptionId": self.subscription_id,
            "url": self.url,
            "events": list(self.events),
        }


@dataclass
class State:
    """name -> Record, and where it is kept."""

    path: Path
    records: dict[str, Record] = field(default_factory=dict)

    def name_of(self, subscription_id: str) -> str | None:
        return next(
            (n for n, r in self.records.items() if r.subscription_id == subscription_id), None
        )

    def owned_ids(self) -> set[str]:
        return {r.subscription_id for r in self.records.values()}

    def record(self, name: str, subscription_id: str, url: str, events: tuple[str, ...]) -> None:
        """Remember ``name`` and write the file now."""
        self.records[name] = Record(subscription_id, url, tuple(sorted(events)))
        self.save()

    def forget(self, name: str) -> None:
        """Drop ``name`` (its subscription was deleted) and write the file now."""
        if self.records.pop(name, None) is not None:
            self.save()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "subscriptions": {n: r.to_json() for n, r in sorted(self.records.items())},
        }

    def save(self) -> None:
        data = json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"
        try:
            write_private(self.path, data.encode())
        except OSError as exc:
            raise UsageError(
                f"cannot write the state file {self.path}: {exc.strerror or exc}",
                hint="check the directory, or give another place with --state",
            ) from exc


@contextmanager
def locked(path: Path, timeout: float = 10.0) -> Iterator[None]:
    """Hold ``.NAME.lock`` beside the state file: one apply (or import) at a time."""
    from filelock import FileLock, Timeout

    try:  # filelock keeps retrying a lock file it may not create: say why at once
        make_private_dirs(path.parent)
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    except OSError as exc:
        raise UsageError(
            f"cannot write the state file {path}: {exc.strerror or exc}",
            hint="check the directory, or give another place with --state",
        ) from None
    lock = FileLock(path.with_name(f".{path.name}.lock"), timeout=timeout, mode=0o600)
    try:
        lock.acquire()
    except Timeout as exc:  # first: filelock's Timeout is an OSError too
        raise KnoxhookError(
            f"timed out waiting for the lock on {path}",
            hint="another knoxhook apply or import is using this state file; try again",
        ) from exc
    except OSError as exc:
        raise UsageError(f"cannot lock the state file {path}: {exc.strerror or exc}") from exc
    try:
        yield
    finally:
        lock.release()


def path_for(config: Path) -> Path:
    """``dir/knoxhook.yaml`` -> ``dir/knoxhook.state.json``."""
    return config.with_name(f"{config.stem}.state.json")


def load(path: Path) -> State:
    """The state at ``path``; an empty one when there is no file yet."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return State(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, getattr(exc, "strerror", None) or str(exc)) from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise _bad(path, f"not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("version") != VERSION:
        raise _bad(path, f"not a version {VERSION} knoxhook state file")
    entries = document.get("subscriptions")
    if not isinstance(entries, dict):
        raise _bad(path, "'subscriptions' is not an object")
    state = State(path)
    for name, entry in entries.items():
        state.records[name] = _record(path, name, entry)
    seen: dict[str, str] = {}
    for name, rec in state.records.items():
        if rec.subscription_id in seen:
            raise _bad(path, f"{name!r} and {seen[rec.subscription_id]!r} record the same id")
        seen[rec.subscription_id] = name
    return state


def _record(path: Path, name: str, entry: Any) -> Record:
    if not isinstance(entry, dict):
        raise _bad(path, f"{name!r} is not an object")
    sid, url, events = entry.get("subscriptionId"), entry.get("url"), entry.get("events")
    if not isinstance(sid, str) or not sid or not isinstance(url, str):
        raise _bad(path, f"{name!r} has no subscriptionId or url")
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise _bad(path, f"{name!r} has no list of events")
    return Record(sid, url, tuple(sorted(events)))


def _bad(path: Path, why: str) -> UsageError:
    return UsageError(
        f"the state file {path} is unusable: {why}",
        hint="fix or delete it (subscriptions are then matched by URL again)",
    )

"""The desired-state file (``knoxhook.yaml``): parsed and checked before any request.

At its simplest (issue 11)::

    subscriptions:
      devices:                       # a local name; KWN has no name field
        url: https://hooks.example.com/knox/devices
        events: [KDMS_DEVICE_UPLOAD, KDMS_DEVICE_DELETE]

Optional keys at the top: ``version: 1``, ``profile: NAME`` (the config.toml profile
to use when ``--profile`` is not given), ``tenant: ID`` (sent as
``x-wsm-managed-tenantid``, knox-api.md §2a). Optional per entry: ``allow_http: true``
(as ``subscribe --allow-http``). ``events`` is a list or one name. ``${NAME}`` in a URL
is replaced by the environment variable ``NAME`` (an unset one is an error).

Checks, each error naming ``FILE:LINE`` and the entry: known keys, known events (the
message of ``knoxhook.validation.validate_events``, with its "did you mean"), no event in
two entries (Knox allows an event in one subscription only, knox-api.md §3), a URL as
``subscribe`` checks it (``validate_url``), no name given twice.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from knoxhook.errors import UsageError
from knoxhook.validation import validate_events, validate_url

VERSION = 1
TOP_KEYS = ("version", "profile", "tenant", "subscriptions")
ENTRY_KEYS = ("url", "events", "allow_http")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class DesiredSubscription:
    """One entry: a local name, a callback URL (``${ENV}`` expanded) and its events."""

    name: str
    url: str
    events: tuple[str, ...]
    allow_http: bool = False
    line: int = 0  # where the entry starts in the file (0: not from a file)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "events": sorted(self.events)}


@dataclass(frozen=True)
class DesiredState:
    """The whole file: the entries, in file order, and the optional top-level keys."""

    path: Path
    subscriptions: tuple[DesiredSubscription, ...]
    profile: str | None = None
    tenant: str | None = None

    def by_name(self) -> dict[str, DesiredSubscription]:
        return {d.name: d for d in self.subscriptions}


class _File:
    """Errors that name the file and the line of a YAML node."""

    def __init__(self, path: Path, loader: yaml.SafeLoader) -> None:
        self.path = path
        self.loader = loader

    def error(self, node: yaml.Node | None, message: str, hint: str | None = None) -> UsageError:
        line = node.start_mark.line + 1 if node is not None else 1
        return UsageError(f"{self.path}:{line}: {message}", hint=hint)

    def scalar(self, node: yaml.Node, what: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, f"{what} must be a single value")
        return self.loader.construct_object(node)

    def text(self, node: yaml.Node, what: str) -> str:
        value = self.scalar(node, what)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.error(node, f"{what} must be a string")
        return str(value)

    def mapping(self, node: yaml.Node, what: str, known: tuple[str, ...]) -> dict[str, Any]:
        """{key: value node}; unknown and repeated keys are errors (YAML keeps the last)."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping")
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.text(key_node, "a key")
            if key in result:
                raise self.error(key_node, f"{what}: {key!r} is given twice")
            if known and key not in known:
                raise self.error(
                    key_node, f"{what}: unknown key {key!r}", hint=f"known: {', '.join(known)}"
                )
            result[key] = (key_node, value_node)
        return result


def load(path: Path, env: Mapping[str, str] | None = None) -> DesiredState:
    """Read and check ``path``; UsageError naming the file (and line) on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"no desired-state file at {path}",
            hint="write one (see docs/apply.md), or start from what is live: "
            "knoxhook plan --generate -f FILE",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"cannot read {path}: {reason}") from None
    return parse(text, path, os.environ if env is None else env)


def parse(text: str, path: Path, env: Mapping[str, str]) -> DesiredState:
    """The checked desired state in ``text`` (module docstring)."""
    loader = yaml.SafeLoader(text)
    file = _File(path, loader)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise UsageError(f"{path}:{line}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    if root is None:
        raise file.error(None, "the file is empty", hint="it needs a 'subscriptions:' mapping")
    top = file.mapping(root, "the file", TOP_KEYS)
    if "version" in top:
        node = top["version"][1]
        if file.scalar(node, "version") != VERSION:
            raise file.error(node, f"unsupported version (this knoxhook reads version {VERSION})")
    profile = file.text(top["profile"][1], "profile") if "profile" in top else None
    tenant = file.text(top["tenant"][1], "tenant") if "tenant" in top else None
    if "subscriptions" not in top:
        raise file.error(root, "no 'subscriptions:' mapping", hint="see docs/apply.md")
    entries = top["subscriptions"][1]
    if isinstance(entries, yaml.ScalarNode) and file.scalar(entries, "subscriptions") is None:
        return DesiredState(path, (), profile, tenant)  # `subscriptions:` with nothing: none
    wanted = []
    held: dict[str, str] = {}  # event -> entry name
    for name, (key_node, node) in file.mapping(entries, "subscriptions", ()).items():
        entry = _entry(file, name, key_node, node, env)
        for event in entry.events:
            if event in held:
                raise file.error(
                    key_node,
                    f"subscription {name!r}: event {event} is also in {held[event]!r}",
                    hint="Knox allows an event in one subscription only: keep it in one entry",
                )
            held[event] = name
        wanted.append(entry)
    return DesiredState(path, tuple(wanted), profile, tenant)


def _entry(
    file: _File, name: str, key_node: yaml.Node, node: yaml.Node, env: Mapping[str, str]
) -> DesiredSubscription:
    if not NAME_RE.match(name):
        raise file.error(
            key_node,
            f"subscription name {name!r} is not usable",
            hint="letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    where = f"subscription {name!r}"
    keys = file.mapping(node, where, ENTRY_KEYS)
    for required in ("url", "events"):
        if required not in keys:
            raise file.error(node, f"{where}: no {required!r}")
    allow_http = False
    if "allow_http" in keys:
        allow_http = file.scalar(keys["allow_http"][1], f"{where}: allow_http")
        if not isinstance(allow_http, bool):
            raise file.error(keys["allow_http"][1], f"{where}: allow_http must be true or false")
    url_node = keys["url"][1]
    url = _expand(file, url_node, file.text(url_node, f"{where}: url"), where, env)
    try:
        url = validate_url(url, allow_http=allow_http)
    except UsageError as exc:
        raise file.error(url_node, f"{where}: {exc.message}", exc.hint) from None
    return DesiredSubscription(
        name, url, _events(file, keys["events"][1], where), allow_http, key_node.start_mark.line + 1
    )


def _events(file: _File, node: yaml.Node, where: str) -> tuple[str, ...]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    names: list[str] = []
    for item in items:
        raw = file.text(item, f"{where}: an event")
        try:
            names.extend(e for e in validate_events([raw]) if e not in names)
        except UsageError as exc:  # the shared message, with its "did you mean"
            raise file.error(item, f"{where}: {exc.message}", exc.hint) from None
    if not names:
        raise file.error(node, f"{where}: give at least one event", hint="see `knoxhook events`")
    return tuple(names)


def _expand(file: _File, node: yaml.Node, url: str, where: str, env: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise file.error(node, f"{where}: url uses ${{{name}}}, which is not set")
        return env[name]

    return _ENV_RE.sub(value, url)

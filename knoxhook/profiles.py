"""Editing ``config.toml``: profiles saved and removed, the user's comments kept.

``config.toml`` is the user's file as much as knoxhook's: people annotate profiles and
keep other tables in it. Every edit here goes through tomlkit, which parses the file
into a document that keeps comments, blank lines, key order and quoting, so only the
table that changes is rewritten; everything outside it stays byte for byte. tomlkit is
imported only here, and only when writing (reading is ``config.read_config``, stdlib
``tomllib``). The file is written atomically, 0600 (``files.store_private``), in a 0700
directory; a secret is never written (``save_profile`` accepts only
``config.PROFILE_KEYS``).

- ``save_profile(dir, name, values)``: merge ``values`` into ``[profiles.NAME]``;
- ``set_default_profile(dir, name)``: ``default_profile = NAME``;
- ``remove_profile(dir, name)``: drop ``[profiles.NAME]`` (and ``default_profile`` when
  it names it); ``auth logout --forget`` removes the secret and tokens beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knoxhook.config import CONFIG_FILE, PROFILE_KEYS, check_profile_name
from knoxhook.errors import UsageError
from knoxhook.files import ensure_private_dir, store_private

if TYPE_CHECKING:
    from tomlkit import TOMLDocument

_BROKEN = "fix or remove the file, then run again"


def _load(directory: Path) -> TOMLDocument:
    """The document of ``config.toml`` (empty when missing), comments and all."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    path = directory / CONFIG_FILE
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return tomlkit.document()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}", hint=_BROKEN) from exc
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise UsageError(f"cannot read {path}: {exc}", hint=_BROKEN) from exc


def _write(directory: Path, document: TOMLDocument, *, was: str | None = None) -> Path:
    """Write ``document``; ``was``: the text before a table was removed (the blank line
    that tomlkit keeps from before the last table must not linger at the end)."""
    if not directory.is_dir():
        ensure_private_dir(directory)
    path = directory / CONFIG_FILE
    text = document.as_string()
    if was is not None and text.endswith("\n\n") and not was.endswith("\n\n"):
        text = text.rstrip("\n") + "\n"
    store_private(path, text.encode("utf-8"))
    return path


def _profiles(document: TOMLDocument, directory: Path, *, create: bool) -> Any:
    """The ``[profiles]`` table (a super-table: only ``[profiles.NAME]`` headers appear)."""
    import tomlkit

    profiles = document.get("profiles")
    if profiles is None and create:
        profiles = tomlkit.table(is_super_table=True)
        document["profiles"] = profiles
    if profiles is not None and not isinstance(profiles, Mapping):
        raise UsageError(f"'profiles' in {directory / CONFIG_FILE} is not a table", hint=_BROKEN)
    return profiles


def save_profile(
    directory: Path,
    name: str,
    values: Mapping[str, str | None],
    *,
    make_default: bool = False,
) -> Path:
    """Merge ``values`` into ``[profiles.NAME]`` (a None value removes the key); the
    rest of the file, comments included, is kept as it was.

    Only ``config.PROFILE_KEYS`` are accepted: a secret can never be written here.
    """
    import tomlkit

    check_profile_name(name)
    unknown = set(values) - set(PROFILE_KEYS)
    if unknown:
        raise UsageError(f"not a profile setting: {', '.join(sorted(unknown))}")
    document = _load(directory)
    if make_default:
        _set_default(document, name)
    profiles = _profiles(document, directory, create=True)
    table = profiles.get(name)
    if table is None:
        table = tomlkit.table()
        profiles[name] = table
    elif not isinstance(table, Mapping):
        raise UsageError(f"profile {name!r} in {directory / CONFIG_FILE} is not a table")
    for key, value in values.items():
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return _write(directory, document)


def _set_default(document: TOMLDocument, name: str) -> None:
    # tomlkit puts a new top-level key before the first table (else TOML would read it
    # as part of that table), and replaces an existing one where it stands
    document["default_profile"] = name


def set_default_profile(directory: Path, name: str) -> Path:
    """Make ``name`` the profile used when neither ``--profile`` nor the env names one."""
    check_profile_name(name)
    document = _load(directory)
    _set_default(document, name)
    return _write(directory, document)


def remove_profile(directory: Path, name: str) -> bool:
    """Drop ``[profiles.NAME]``, and ``default_profile`` when it names it; False (and no
    write) when there was no such table. Everything else in the file stays."""
    check_profile_name(name)
    if not (directory / CONFIG_FILE).exists():
        return False
    document = _load(directory)
    was = document.as_string()
    profiles = _profiles(document, directory, create=False)
    if profiles is None or name not in profiles:
        return False
    del profiles[name]
    if document.get("default_profile") == name:
        del document["default_profile"]
    _write(directory, document, was=was)
    return True

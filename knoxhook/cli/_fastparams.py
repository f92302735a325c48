"""Start-up shortcuts for the typer app: no pydantic, and build only the invoked command.

1. ``install()``: keep pydantic out of a command's start-up.

typer (0.2x) coerces each non-bool parameter through a pydantic ``TypeAdapter``, built
the first time the parameter is processed, even when the option was not given (value
None). So every command, e.g. ``subscriptions list --json``, paid ~70 ms to import
pydantic: about a third of its run time (measured by ``benchmarks/bench_cli.py``).

``install()`` wraps typer's per-parameter coercion. Three cases are answered here,
exactly as typer answers them: an absent value (None), a ``str`` parameter given a
string, and an ``Enum`` parameter given one of its choices (typer's own
``coerce_cli_choice``). Everything else (numbers, paths, files, custom parsers,
multi-value options, and any value that would be refused, so error messages stay
typer's) goes to typer's own coercion, built lazily on first use.

2. ``select_app(app, args)``: typer builds the parameters of EVERY command (~40, each
``inspect.signature`` + evaluating its string annotations) before running one. When the
arguments name a command or group, ``select_app`` returns a shallow copy of the app that
holds only that one, with the same root callback (global options) and settings; the
output of the command, its ``--help`` and its errors are unchanged. For anything else
(no command, an unknown name) it returns the app itself, so typer's own messages and
suggestions appear. For ``--help`` at the root (or no arguments) it returns an outline:
every command and group with its name and help, but without parameters or subcommands,
which the root help does not show.

Guarded: when typer's internals are not what this expects, both change nothing (correct,
only slower). ``tests/cli/test_fastparams.py`` pins the behaviour.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, Final

_MISS: Final = object()


class _LazyRuntimeParam:
    """Answers the cheap cases; builds typer's RuntimeParam only when needed."""

    __slots__ = ("_build", "_choice", "_descriptor", "_real")

    def __init__(self, descriptor: Any, build: Callable[[Any], Any], choice: Any) -> None:
        self._descriptor = descriptor
        self._build = build
        self._choice = choice
        self._real: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if not (param.multiple or param.nargs == -1):
            if value is None:
                return None  # as RuntimeParam.coerce
            fast = self._fast(value, param, ctx)
            if fast is not _MISS:
                return fast
        if self._real is None:
            self._real = self._build(self._descriptor)
        return self._real.coerce(value, param=param, ctx=ctx)

    def _fast(self, value: Any, param: Any, ctx: Any) -> Any:
        descriptor = self._descriptor
        info = descriptor.parameter_info
        if info.parser is not None or descriptor.file_annotation is not None:
            return _MISS
        annotation = descriptor.annotation
        if annotation is str and isinstance(value, str):
            return value
        if isinstance(annotation, type) and issubclass(annotation, Enum):
            try:
                return self._choice(
                    value, choices=list(annotation), case_sensitive=info.case_sensitive, ctx=ctx
                )
            except ValueError:
                # typer's own path would say "Value error, 'x' is not one of 'kg', ..."
                # (pydantic's words, lower-cased choices): name the choices as documented.
                from typer._click.exceptions import BadParameter

                choices = ", ".join(str(getattr(c, "value", c)) for c in annotation)
                raise BadParameter(
                    f"{value!r} is not one of: {choices}.", ctx=ctx, param=param
                ) from None
        return _MISS

    def __getattr__(self, name: str) -> Any:  # anything else typer may ask for
        if self._real is None:
            self._real = self._build(self._descriptor)
        return getattr(self._real, name)


def install() -> bool:
    """Route typer's parameter coercion through ``_LazyRuntimeParam``; idempotent."""
    try:
        from typer import core
        from typer._param_types import coerce_cli_choice
    except ImportError:
        return False
    original = getattr(core, "build_runtime_param", None)
    if original is None or not hasattr(core, "_TyperParameter"):
        return False
    if getattr(original, "knoxhook_fast", False):
        return True

    def build_runtime_param(descriptor: Any) -> Any:
        return _LazyRuntimeParam(descriptor, original, coerce_cli_choice)

    build_runtime_param.knoxhook_fast = True  # type: ignore[attr-defined]
    setattr(core, "build_runtime_param", build_runtime_param)  # noqa: B010 - not exported
    return True


# Root options that take a value (knoxhook.cli.main.root): skip it when looking for the
# command name.
_VALUE_OPTIONS: Final = frozenset({"--profile", "-p", "--output", "-o"})


def _command_index(args: Sequence[str]) -> int | None:
    """Where the command name is in ``args``: the first word after the root options."""
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
        elif arg == "--":
            return None
        elif arg in _VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return index
    return None


def _command_name(args: Sequence[str]) -> str | None:
    index = _command_index(args)
    return None if index is None else args[index]


def select_app(app: Any, args: Sequence[str]) -> Any:
    """``app`` reduced to the command or group ``args`` names (or ``app`` itself)."""
    index = _command_index(args)
    if index is None:
        wants_help = not args or any(a in ("-h", "--help") for a in args)
        return _outline(app) if wants_help else app
    name = args[index]
    try:
        from typer.main import get_command_name, solve_typer_info_defaults

        commands = [
            info
            for info in app.registered_commands
            if (info.name or get_command_name(info.callback.__name__)) == name
        ]
        groups = [
            info for info in app.registered_groups if solve_typer_info_defaults(info).name == name
        ]
    except Exception:  # typer's internals changed: build everything, as typer does
        return app
    if len(commands) + len(groups) != 1:
        return app
    selected = copy.copy(app)
    selected.registered_commands = commands
    try:
        selected.registered_groups = [_narrow(g, args[index + 1 :]) for g in groups]
    except Exception:  # typer's internals changed: keep the whole group
        selected.registered_groups = groups
    return selected


def _narrow(group: Any, rest: Sequence[str]) -> Any:
    """The group with only the subcommand named right after it (``subscriptions list``);
    the whole group when there is none or it is not one of the group's own commands."""
    from typer.main import get_command_name

    if not rest or rest[0].startswith("-"):
        return group
    sub = group.typer_instance
    commands = [
        info
        for info in sub.registered_commands
        if (info.name or get_command_name(info.callback.__name__)) == rest[0]
    ]
    if len(commands) != 1:
        return group
    narrowed_typer = copy.copy(sub)
    narrowed_typer.registered_commands = commands
    narrowed_typer.registered_groups = []
    narrowed = copy.copy(group)
    narrowed.typer_instance = narrowed_typer
    return narrowed


def _stub(command: Any) -> Any:
    """A CommandInfo with the same name and help, whose callback takes no parameters."""
    from typer.main import get_command_name

    callback = command.callback

    def stub() -> None:  # never invoked: only the root help is rendered from it
        raise RuntimeError("outline stub invoked")

    stub.__name__ = callback.__name__
    stub.__doc__ = callback.__doc__
    outline = copy.copy(command)
    outline.name = command.name or get_command_name(callback.__name__)
    outline.callback = stub
    return outline


def _outline(app: Any) -> Any:
    """The app as the root ``--help`` sees it: names and help texts only."""
    try:
        selected = copy.copy(app)
        selected.registered_commands = [_stub(c) for c in app.registered_commands]
        groups = []
        for info in app.registered_groups:
            sub = copy.copy(info.typer_instance)
            sub.registered_commands = []
            sub.registered_groups = []
            group = copy.copy(info)
            group.typer_instance = sub
            groups.append(group)
        selected.registered_groups = groups
    except Exception:  # typer's internals changed: build everything, as typer does
        return app
    return selected

"""Keep pydantic out of a command's start-up: ``install()``.

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

A refused choice therefore gets typer's own error ("Value error, 'x' is not one of 'kg',
..."): the error boundary (``cli/main.py``, ``choice_message``) names the choices as
documented.

This has no supported alternative in typer. It is fenced: typer is pinned to the minor
version this was written for (pyproject.toml), ``install()`` changes nothing when typer's
internals are not what it expects (correct, only slower), and
``tests/cli/test_fastparams.py`` runs a sample of real argv through the patched and the
unpatched coercion and compares the values and the errors. (Building only the invoked
command is the lazy root group's job: ``knoxhook.cli.registry``.)
"""

from __future__ import annotations

from collections.abc import Callable
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
        if value is None and (param.multiple or param.nargs == -1):
            return ()  # an absent repeatable option, as RuntimeParam.coerce
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
                return _MISS  # refused: typer's own coercion raises its own error
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
    build_runtime_param.knoxhook_original = original  # type: ignore[attr-defined]
    setattr(core, "build_runtime_param", build_runtime_param)  # noqa: B010 - not exported
    return True

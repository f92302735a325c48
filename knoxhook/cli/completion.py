"""``knoxhook completion bash|zsh|fish``: the shell script; and answering its requests.

The scripts are typer's (they call ``knoxhook`` back with ``_KNOXHOOK_COMPLETE`` set).
A request is answered by ``main()`` calling ``enable()`` first: it registers typer's
bash/zsh/fish completers, extended to know the values of ``--event`` (the catalogue)
and ``--profile`` (config.toml), without touching the options' definitions. A request
goes through the lazy registry, so it imports only the command being completed, and
never httpx2, authlib, cryptography, pydantic or rich (tests/cli/test_completion.py).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from knoxhook.cli import context, registry

completion_app = registry.command()

COMPLETE_VAR = "_KNOXHOOK_COMPLETE"


class Shell(StrEnum):
    BASH = "bash"
    ZSH = "zsh"
    FISH = "fish"


def values_for(param: Any, incomplete: str) -> list[str] | None:
    """The known values of ``param`` starting with ``incomplete``; None: not ours."""
    opts = getattr(param, "opts", ())
    if "--event" in opts:
        from knoxhook.events import EVENT_NAMES

        return sorted(n for n in EVENT_NAMES if n.startswith(incomplete.upper()))
    if "--service" in opts:
        from knoxhook.events import SERVICES

        return sorted(s for s in SERVICES if s.startswith(incomplete.upper()))
    if "--profile" in opts:
        from knoxhook.config import config_dir, list_profiles
        from knoxhook.errors import KnoxhookError

        try:
            return [p for p in list_profiles(config_dir()) if p.startswith(incomplete)]
        except KnoxhookError:  # a broken config.toml: no names, never a traceback
            return []
    return None


def enable() -> None:
    """Register the bash, zsh and fish completers (before the root app runs)."""
    from typer._click.shell_completion import (
        CompletionItem,
        _resolve_context,
        _resolve_incomplete,
        add_completion_class,
    )
    from typer._completion_classes import BashComplete, FishComplete, ZshComplete

    class KnownValues:
        """``get_completions`` of click's ``ShellComplete``, with our values first."""

        cli: Any
        ctx_args: Any
        prog_name: str

        def get_completions(self, args: list[str], incomplete: str) -> list[Any]:
            ctx = _resolve_context(self.cli, self.ctx_args, self.prog_name, args)
            obj, incomplete = _resolve_incomplete(ctx, args, incomplete)
            values = values_for(obj, incomplete)
            if values is not None:
                return [CompletionItem(value) for value in values]
            items: list[Any] = obj.shell_complete(ctx, incomplete)
            return items

    for base in (BashComplete, ZshComplete, FishComplete):
        add_completion_class(type(base.__name__, (KnownValues, base), {}), base.name)
    # Completion parses the words typed so far resiliently and never runs a command, so
    # their values are not used: skip typer's coercion, which for a list option
    # (`subscribe --event`) would import pydantic (~70 ms). This process only completes.
    from knoxhook.cli import _fastparams

    _fastparams._LazyRuntimeParam.coerce = _as_typed  # type: ignore[method-assign]


def _as_typed(self: Any, value: Any, param: Any, ctx: Any) -> Any:
    return value


@completion_app.command("completion")
def completion(
    shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.", case_sensitive=False)],
) -> None:
    """Print the shell completion script for bash, zsh or fish.

    It completes commands, options, event names (--event), services (--service) and
    profile names (--profile). Load it from your shell's start-up file.

    Examples:

    \b
      eval "$(knoxhook completion bash)"          # in ~/.bashrc
      knoxhook completion zsh > "${fpath[1]}/_knoxhook"
      knoxhook completion fish > ~/.config/fish/completions/knoxhook.fish
    """
    from typer._completion_shared import get_completion_script

    script = get_completion_script(prog_name="knoxhook", complete_var=COMPLETE_VAR, shell=shell)
    out = context.current().env.stdout
    out.write(script.rstrip("\n") + "\n")
    out.flush()

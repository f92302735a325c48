"""Every ``knoxhook`` command, by name, and the lazy root group that loads only the one run.

``COMMANDS`` maps each top-level name to where its typer app lives and its one-line help.
The root ``--help`` is printed from this table alone, and ``knoxhook NAME ...`` imports
only NAME's module and builds only NAME's parameters (typer would otherwise import every
command module and build ~40 parameters, each ``inspect.signature`` plus its string
annotations, before running one). This is click's documented lazy-loading pattern
(a ``Group`` overriding ``list_commands`` and ``get_command``), on typer's ``TyperGroup``.

How to add a command (``plan``, ``apply``, ``doctor``, ...):

1. In its module (``knoxhook/cli/plan.py``), make ONE typer app per top-level name, with
   the factories below, and decorate the functions on it::

       from knoxhook.cli import registry

       plan_app = registry.command()          # a top-level command: exactly one function

       @plan_app.command("plan")
       def plan(...) -> None:
           \"\"\"Show what `apply` would change, without changing it.

           Example: ...
           \"\"\"

   or, for a group (``knoxhook callbacks list|show``)::

       callbacks_app = registry.group("callbacks", "Inspect recorded callbacks.\\n\\n...")

       @callbacks_app.command("list")
       def list_(...) -> None: ...

   Nothing else: no ``register()``, no ``add_typer``. Keep heavy imports (httpx2,
   authlib, cryptography, starlette, textual, pydantic) inside the functions: the start-up
   tests assert which modules a command does NOT import.
2. Add a row to ``COMMANDS`` below: ``"plan": Entry("knoxhook.cli.plan", "plan_app",
   "<the first sentence of its help>")``. The order of ``COMMANDS`` is the order of the
   root ``--help`` (today: commands first, then groups).
3. ``tests/cli/test_registry.py`` then checks, for every row, that the module imports, the
   attribute is such an app, the command's name is the row's name, and the help line is
   the first sentence of the command's real help (so the two cannot drift apart).
4. Regenerate the two files made from the commands (a test fails, naming the command,
   when either is stale): ``uv run python -m knoxhook.cli.reference --write``
   (docs/cli.md) and ``uv run python -m knoxhook.cli.completion --write`` (the
   completion table the console script answers from without typer).

A top-level command is a ``registry.command()`` app holding that one function; a group is
a ``registry.group(name, help)`` app (even with one subcommand, like ``emulator run``).
Both set what every knoxhook app shares (plain help, no rich markup; a bare group prints
its help). Every command built here gets ``helptext.Context``: its help's examples (the
indented lines of a docstring) are never re-wrapped, at any terminal width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Final

import typer
from typer.core import TyperGroup
from typer.models import CommandInfo, DefaultPlaceholder

from knoxhook.cli import helptext
from knoxhook.cli._typer import UsageError, make_default_short_help


@dataclass(frozen=True)
class Entry:
    """Where a top-level command lives, and its line in the root ``--help``."""

    module: str  # "knoxhook.cli.auth"
    attribute: str  # the typer app in it: "auth_app"
    help: str  # the first sentence of the command's own help


COMMANDS: Final[dict[str, Entry]] = {
    # commands
    "subscribe": Entry(
        "knoxhook.cli.subscriptions",
        "subscribe_app",
        "Subscribe a callback URL to one or more events, and print the subscription.",
    ),
    "plan": Entry(
        "knoxhook.cli.plan",
        "plan_app",
        "Show the changes that would make Knox match FILE, without making them.",
    ),
    "apply": Entry(
        "knoxhook.cli.apply",
        "apply_app",
        "Make the live subscriptions match FILE or a saved PLAN.json, step by step.",
    ),
    "import": Entry(
        "knoxhook.cli.apply",
        "import_app",
        "Adopt a live subscription as FILE's entry NAME, in the state file.",
    ),
    "events": Entry(
        "knoxhook.cli.events",
        "events_app",
        "List the events you can subscribe to, with their service and description.",
    ),
    "verify": Entry(
        "knoxhook.cli.verify", "verify_app", "Verify the signature of a saved Knox callback."
    ),
    "listen": Entry(
        "knoxhook.cli.listen",
        "listen_app",
        "Receive Knox callbacks: verify each one, refuse forgeries and replays.",
    ),
    "trigger": Entry(
        "knoxhook.cli.trigger",
        "trigger_app",
        "Make the Knox emulator deliver a signed EVENT callback, and show the delivery.",
    ),
    "demo": Entry(
        "knoxhook.cli.demo",
        "demo_app",
        "Run the whole Knox webhook workflow on the embedded Knox emulator.",
    ),
    "ui": Entry(
        "knoxhook.cli.ui",
        "ui_app",
        "Open the terminal UI: subscriptions, the event catalogue, and live callbacks.",
    ),
    "api": Entry(
        "knoxhook.cli.api",
        "api_app",
        "Send an authenticated request to any Knox API path, and print the response body.",
    ),
    "doctor": Entry(
        "knoxhook.cli.doctor",
        "doctor_app",
        "Check the setup end to end, one line per check, each failure with its fix.",
    ),
    "completion": Entry(
        "knoxhook.cli.completion",
        "completion_app",
        "Print the shell completion script for bash, zsh or fish.",
    ),
    # groups
    "auth": Entry(
        "knoxhook.cli.auth",
        "auth_app",
        "Log in to Knox (client credentials), inspect and print tokens, log out.",
    ),
    "cert": Entry(
        "knoxhook.cli.cert",
        "cert_app",
        "Download, store and inspect the Knox validation certificate that signs callbacks.",
    ),
    "subscriptions": Entry(
        "knoxhook.cli.subscriptions",
        "subs_app",
        "List, show, update and delete KWN subscriptions (create one with `subscribe`).",
    ),
    "callbacks": Entry(
        "knoxhook.cli.callbacks",
        "callbacks_app",
        "Inspect, retry and drop the callbacks in listen's outbox; replay recorded ones.",
    ),
    "emulator": Entry(
        "knoxhook.cli.emulator",
        "emulator_app",
        "Run a local Knox cloud emulator (OAuth, KWN subscriptions, signed callbacks).",
    ),
}


def command() -> typer.Typer:
    """The app of one top-level command: decorate its function with ``.command("name")``."""
    return typer.Typer(rich_markup_mode=None, add_completion=False)


def group(name: str, help: str) -> typer.Typer:
    """The app of a command group; ``knoxhook NAME`` alone prints its help."""
    return typer.Typer(name=name, help=help, no_args_is_help=True, rich_markup_mode=None)


def load(name: str, entry: Entry) -> Any:
    """The click command (or group) of ``entry``: import its module, build only it."""
    import typer.main

    app = getattr(import_module(entry.module), entry.attribute)
    if not isinstance(app, typer.Typer):
        raise TypeError(f"{entry.module}.{entry.attribute} is not a typer.Typer")
    # A group is an app made with a name (registry.group); else one command (get_command
    # would turn a group holding a single subcommand, like `emulator run`, into it).
    if isinstance(app.info.name, DefaultPlaceholder):
        command = typer.main.get_command(app)
        command.name = name
        return helptext.adopt(_shaped(command))
    return helptext.adopt(_group(name, app))


def _shaped(command: Any) -> Any:
    """``command`` with the output-shaping options of data commands (cli/shaping.py)."""
    from knoxhook.cli.shaping import add_options

    for sub in getattr(command, "commands", {}).values():
        add_options(sub)
    return add_options(command)


def _group(name: str, app: typer.Typer) -> TyperGroup:
    """The group of ``app`` as typer builds it, but with its subcommands built only when
    invoked: building all four of ``subscriptions`` cost ~15 ms of ``subscriptions list``.
    """
    import typer.main
    from typer.models import TyperInfo

    if app.registered_callback or app.registered_groups:  # not registry.group's shape
        group = typer.main.get_group(app)
        group.name = name
        _shaped(group)
        return group
    info = typer.main.solve_typer_info_defaults(TyperInfo(app))  # as get_group_from_info
    return LazySubgroup(
        app.registered_commands,
        pretty_exceptions_short=app.pretty_exceptions_short,
        name=name,
        invoke_without_command=info.invoke_without_command,
        no_args_is_help=info.no_args_is_help,
        subcommand_metavar=info.subcommand_metavar,
        result_callback=info.result_callback,
        context_settings=info.context_settings,
        help=info.help,
        epilog=info.epilog,
        short_help=info.short_help,
        options_metavar=info.options_metavar,
        add_help_option=info.add_help_option,
        hidden=info.hidden,
        deprecated=info.deprecated,
        rich_markup_mode=app.rich_markup_mode,
        rich_help_panel=info.rich_help_panel,
        suggest_commands=app.suggest_commands,
    )


class _LazyCommands(TyperGroup):
    """A ``TyperGroup`` whose subcommands are built when first asked for.

    ``TyperGroup`` suggests "Did you mean" from ``self.commands``, which stays empty
    here: ``resolve_command`` suggests from ``list_commands`` instead.
    """

    context_class = helptext.Context

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._built: dict[str, Any] = {}

    def _names(self) -> list[str]:
        raise NotImplementedError

    def _build(self, name: str) -> Any:
        raise NotImplementedError

    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.commands, *(n for n in self._names() if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in self._names():
            return None
        if cmd_name not in self._built:
            self._built[cmd_name] = self._build(cmd_name)
        return self._built[cmd_name]

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:
            if self.suggest_commands and args and "Did you mean" not in exc.message:
                from difflib import get_close_matches

                matches = get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    suggestions = ", ".join(repr(m) for m in matches)
                    exc.message = f"{exc.message.rstrip('.')}. Did you mean {suggestions}?"
            raise


class LazyGroup(_LazyCommands):
    """The root group: its commands are the rows of ``COMMANDS``, imported when invoked.

    ``list_commands`` and ``format_commands`` (the root ``--help``) read the table only;
    ``get_command`` imports one module and builds one command or group.
    """

    registry: dict[str, Entry] = COMMANDS

    def _names(self) -> list[str]:
        return list(self.registry)

    def _build(self, name: str) -> Any:
        return load(name, self.registry[name])

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The commands section of the root help, as ``TyperGroup`` writes it, from the
        registry's help lines (no command module is imported)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in self.commands:
                rows.append((name, self.commands[name].get_short_help_str(limit)))
            else:
                rows.append((name, make_default_short_help(self.registry[name].help, limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


class LazySubgroup(_LazyCommands):
    """A command group (``auth``, ``subscriptions``...): ``knoxhook auth status`` builds
    only ``status``. Its ``--help`` builds them all, as typer does."""

    def __init__(
        self, infos: Sequence[CommandInfo], *, pretty_exceptions_short: bool, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        from typer.main import get_command_name

        self._infos = {
            info.name or get_command_name(info.callback.__name__): info
            for info in infos
            if info.callback is not None
        }
        self._pretty_exceptions_short = pretty_exceptions_short

    def _names(self) -> list[str]:
        return list(self._infos)

    def _build(self, name: str) -> Any:
        from typer.main import get_command_from_info

        return helptext.adopt(
            _shaped(
                get_command_from_info(
                    self._infos[name],
                    pretty_exceptions_short=self._pretty_exceptions_short,
                    rich_markup_mode=self.rich_markup_mode,
                )
            )
        )

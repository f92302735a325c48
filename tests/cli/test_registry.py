"""The command registry and the lazy root group (knoxhook.cli.registry)."""

from __future__ import annotations

import copy
import pkgutil
import subprocess
import sys
from importlib import import_module
from typing import Any

import pytest
import typer
from typer.core import TyperGroup

import knoxhook.cli
from knoxhook.cli import context, registry
from knoxhook.cli._typer import make_default_short_help
from knoxhook.cli.context import Invocation
from knoxhook.cli.registry import COMMANDS


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_registry_row_names_a_command_whose_help_starts_with_the_rows_line(
    name: str,
) -> None:
    entry = COMMANDS[name]
    command = registry.load(name, entry)
    assert command.name == name
    real = make_default_short_help(command.help or "", 10**6)
    assert entry.help == real, f"COMMANDS[{name!r}].help drifted from the command's help"
    is_group = isinstance(command, TyperGroup)
    app = getattr(import_module(entry.module), entry.attribute)
    assert is_group == (name in {"auth", "cert", "subscriptions", "emulator", "callbacks"})
    assert isinstance(app, typer.Typer)
    assert command.rich_markup_mode is None  # plain help, as the root's


def test_every_typer_app_in_the_cli_package_is_in_the_registry_and_none_registers_itself() -> None:
    listed = {(e.module, e.attribute) for e in COMMANDS.values()}
    found = set()
    for info in pkgutil.iter_modules(knoxhook.cli.__path__):
        module = import_module(f"knoxhook.cli.{info.name}")
        assert not hasattr(module, "register"), f"{info.name}: use the registry, not register()"
        for attribute, value in vars(module).items():
            if isinstance(value, typer.Typer) and not (info.name == "main" and attribute == "app"):
                found.add((module.__name__, attribute))
    assert found == listed


def test_an_unknown_name_gets_typers_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    from knoxhook.cli.main import main

    for args, typo, said in (
        (["subscriptionz", "list"], "subscriptionz", "Did you mean 'subscriptions', 'subscribe'?"),
        (["lisen"], "lisen", "Did you mean 'listen'?"),
        (["auth", "logni"], "logni", "Did you mean 'login'?"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"Error: No such command {typo!r}. {said}\n"), err
    with pytest.raises(SystemExit):
        main(["nosuch"])
    assert capsys.readouterr().err == "Error: No such command 'nosuch'.\nHint: see --help\n"


def _imported_cli_modules(*args: str) -> set[str]:
    code = (
        "import sys\n"
        "from knoxhook.cli.main import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('knoxhook.cli.')), "
        "file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    last = result.stderr.strip().splitlines()[-1]
    return set(eval(last))  # noqa: S307 - our own printed list


def test_the_root_help_imports_no_command_module_and_a_command_only_its_own() -> None:
    shared = {f"knoxhook.cli.{name}" for name in
              ("main", "registry", "_typer", "_fastparams", "context", "display")}  # fmt: skip
    assert _imported_cli_modules("--help") == shared
    assert _imported_cli_modules("subscriptions", "list", "--help") == {
        *shared,
        "knoxhook.cli.subscriptions",
        "knoxhook.cli.checks",
        "knoxhook.cli.clients",
    }


def _eager_app() -> typer.Typer:
    """The root app built the way typer builds it without the registry: every command
    module imported and added up front."""
    from knoxhook.cli.main import app

    eager = copy.copy(app)
    eager.info = copy.copy(app.info)
    eager.info.cls = TyperGroup
    eager.registered_commands = []
    eager.registered_groups = []
    groups = []
    for name, entry in COMMANDS.items():
        sub = getattr(import_module(entry.module), entry.attribute)
        if isinstance(registry.load(name, entry), TyperGroup):
            groups.append((sub, name))
        else:
            eager.registered_commands.extend(sub.registered_commands)
    for sub, name in groups:  # typer lists groups after commands
        eager.add_typer(sub, name=name)
    return eager


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        [],
        ["-p", "x", "--help"],
        ["auth", "--help"],
        ["auth"],
        ["auth", "login", "--help"],
        ["auth", "logni"],
        ["subscriptions", "list", "--help"],
        ["subscriptions", "lst"],
        ["subscriptionz"],
        ["--json", "auth", "status"],
        ["events", "--service", "KG", "--json"],
        ["subscribe", "--help"],
        ["emulator"],
        ["listen", "--help"],
    ],
)
def test_the_lazy_root_behaves_exactly_like_the_eager_one(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from knoxhook.cli.main import app

    def outcome(which: Any) -> tuple[str, str, str]:
        try:
            which(args=list(args), prog_name="knoxhook", standalone_mode=False)
            result = "ok"
        except BaseException as exc:  # what the one error boundary would map
            result = f"{type(exc).__name__}: {exc}"
        out, err = capsys.readouterr()
        return result, out, err

    def in_a_run(which: Any) -> tuple[str, str, str]:  # as main() runs it
        with context.use(Invocation.from_argv(args)) as invocation:
            return outcome(lambda **kw: which(**kw, obj=invocation))

    assert in_a_run(app) == in_a_run(_eager_app())


def test_a_subcommand_builds_only_itself_and_its_group_help_builds_them_all(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import typer.main

    from knoxhook.cli.main import main

    built: list[str] = []
    real = typer.main.get_command_from_info

    def counting(info: Any, **kw: Any) -> Any:
        built.append(info.name)
        return real(info, **kw)

    monkeypatch.setattr(typer.main, "get_command_from_info", counting)
    with pytest.raises(SystemExit):
        main(["subscriptions", "get", "--help"])
    assert built == ["get"]  # not list, update, delete (~15 ms of `subscriptions list`)
    built.clear()
    with pytest.raises(SystemExit):
        main(["subscriptions", "--help"])
    assert built == ["list", "get", "update", "delete"]
    assert "delete  Delete subscriptions by id" in capsys.readouterr().out

"""The command registry and the lazy root group (knoxhook.cli.registry)."""

from __future__ import annotations

import copy
import pkgutil
import re
import subprocess
import sys
from importlib import import_module
from typing import Any

import pytest
import typer
from typer.core import TyperGroup

import knoxhook.cli
from knoxhook.cli import context, helptext, registry
from knoxhook.cli._typer import make_default_short_help
from knoxhook.cli.context import Invocation
from knoxhook.cli.registry import COMMANDS
from knoxhook.cli.shaping import add_options


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
              ("main", "registry", "_typer", "_fastparams", "helptext", "context", "pipes",
                   "display")}  # fmt: skip
    assert _imported_cli_modules("--help") == shared
    assert _imported_cli_modules("subscriptions", "list", "--help") == {
        *shared,
        "knoxhook.cli.shaping",  # --jq/--fields/--show-secrets on every data command
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


def _eager_command() -> Any:
    """``_eager_app()`` as a click group, with the shaping options every data command is
    given (``registry._shaped``: --jq, --fields, --show-secrets) added the same way."""
    import typer.main

    def shaped(command: Any) -> None:
        for sub in getattr(command, "commands", {}).values():
            shaped(sub)
        add_options(command)

    group = typer.main.get_group(_eager_app())
    for command in group.commands.values():  # the root's own --json takes none
        shaped(command)
    return group


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
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same output and errors; the eager app given knoxhook's help layout, which the
    registry gives every command (examples never re-wrapped: cli/helptext.py)."""
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

    lazy = in_a_run(app)
    click_context = typer.Context.__mro__[1]  # what typer's own commands are run in
    monkeypatch.setattr(click_context, "formatter_class", helptext.HelpFormatter)
    assert lazy == in_a_run(_eager_command())


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


def _help_examples() -> dict[tuple[str, ...], list[str]]:
    """Every command path (the root too) and the example lines its help must show whole."""
    from knoxhook.cli import reference

    return {node.path: helptext.example_lines(node.command.help) for node in reference.walk()}


@pytest.mark.parametrize("columns", ["40", "60", "80", "200"])
def test_no_help_example_is_ever_wrapped_mid_command(columns: str) -> None:
    """Through real `knoxhook ... --help` processes: every example line of every command
    appears whole on one line (`auth login` used to split before --client-secret-stdin,
    `auth token` put the URL on its own line), while prose still wraps to the width."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    examples = _help_examples()
    assert len(examples) > 35
    assert sum(map(len, examples.values())) > 80
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNOXHOOK_")}
    env["COLUMNS"] = columns

    def help_of(path: tuple[str, ...]) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "knoxhook", *path, "--help"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    with ThreadPoolExecutor(max_workers=3) as pool:
        helps = dict(zip(examples, pool.map(help_of, examples), strict=True))
    width = max(min(int(columns), 80) - 2, 50)  # click's help width for COLUMNS
    for path, lines in examples.items():
        shown = [line.strip() for line in helps[path].splitlines()]
        for line in lines:
            assert line in shown, f"knoxhook {' '.join(path)} --help: {line!r} was re-wrapped"
        text = re.split(r"^(?:Options|Arguments|Commands):$", helps[path], flags=re.M)[0]
        prose = [p for p in text.splitlines()[1:] if p.strip() and p.strip() not in lines]
        assert prose, path
        assert all(len(p) <= width for p in prose), (path, columns)
    login = [line.strip() for line in helps[("auth", "login")].splitlines()]
    assert (
        "printf '%s' \"$SECRET\" | knoxhook auth login --client-id my-client --client-secret-stdin"
        in login
    )


def test_the_entry_answers_version_like_main_without_importing_typer_and_passes_the_rest() -> None:
    """knoxhook.cli.entry (the proposed console script): `--version` in ~30 ms."""
    probe = (
        "import sys\nfrom knoxhook.cli.entry import main\ntry:\n    main()\nfinally:\n"
        "    sys.stderr.write('typer imported' if 'typer' in sys.modules else 'no typer')"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", probe, *args],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    fast = run("--version")
    full = subprocess.run([sys.executable, "-m", "knoxhook", "--version"],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert (fast.returncode, fast.stdout, fast.stderr) == (0, full.stdout, "no typer")
    assert fast.stdout.startswith("knoxhook ")
    for args in (["--version", "--help"], ["events", "--json"]):
        rest = run(*args)
        assert rest.returncode == 0, rest.stderr
        assert rest.stderr == "typer imported"
    assert "Usage: knoxhook [OPTIONS] COMMAND" in run("--help").stdout

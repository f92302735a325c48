"""The pydantic-free fast path for typer's parameter coercion (knoxhook.cli._fastparams)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from enum import StrEnum
from typing import Annotated, Any

import pytest
import typer

from knoxhook.cli import _fastparams
from knoxhook.cli.main import main
from knoxhook.emulator.testing import EmulatorHandle


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


def run_app(*args: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    app = typer.Typer()

    @app.command()
    def cmd(
        name: str = "anon",
        count: Annotated[int, typer.Option(min=1)] = 1,
        colour: Annotated[Colour | None, typer.Option(case_sensitive=False)] = None,
        tag: Annotated[list[str] | None, typer.Option()] = None,
        upper: Annotated[str | None, typer.Option(parser=str.upper)] = None,
    ) -> None:
        seen.update(name=name, count=count, colour=colour, tag=tag, upper=upper)

    app(list(args), standalone_mode=False)
    return seen


def test_install_is_idempotent_and_active() -> None:
    assert _fastparams.install() is True
    assert _fastparams.install() is True


def test_values_are_coerced_exactly_as_typer_does() -> None:
    assert run_app() == {"name": "anon", "count": 1, "colour": None, "tag": None, "upper": None}
    assert run_app("--name", "x y", "--count", "3", "--colour", "BLUE", "--tag", "a",
                   "--tag", "b", "--upper", "q") == {
        "name": "x y", "count": 3, "colour": Colour.BLUE, "tag": ["a", "b"], "upper": "Q",
    }  # fmt: skip


def test_refused_values_keep_typers_errors_but_name_choices_plainly() -> None:
    with pytest.raises(typer.BadParameter, match=r"'green' is not one of: red, blue\."):
        run_app("--colour", "green")
    with pytest.raises(typer.BadParameter, match="greater than or equal to 1"):
        run_app("--count", "0")
    with pytest.raises(typer.BadParameter):
        run_app("--count", "many")


def test_a_bad_output_format_is_still_usage_error_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--output", "xml", "auth", "status"])
    assert exc.value.code == 2
    assert "'xml' is not one of: table, json, yaml, ndjson." in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--output", "JSON", "--profile", "p1", "auth", "status"])
    assert exc.value.code == 3  # not configured, but the options were understood
    assert json.loads(capsys.readouterr().out)["profile"] == "p1"


def test_a_command_with_a_cached_token_never_imports_pydantic(emulator: EmulatorHandle) -> None:
    env = dict(
        os.environ,
        KNOXHOOK_BASE_URL=emulator.base_url,
        KNOXHOOK_CLIENT_ID=emulator.client_id,
        KNOXHOOK_CLIENT_SECRET=emulator.client_secret,
    )
    base = [sys.executable, "-X", "importtime", "-m", "knoxhook"]
    for args in (["auth", "token"], ["subscriptions", "list", "--json"], ["auth", "status"]):
        result = subprocess.run(
            [*base, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr[-2000:]
        imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
        assert "pydantic" not in imported, args
        if args[0] == "subscriptions":
            assert {"authlib", "keyring", "filelock"}.isdisjoint(imported)


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["subscriptions", "list"], "subscriptions"),
        (["--profile", "auth", "--json", "auth", "status"], "auth"),
        (["-o", "json", "-p", "x", "events"], "events"),
        (["--output=json", "-v", "--debug", "subscribe", "--url", "u"], "subscribe"),
        (["--help"], None),
        ([], None),
        (["--", "auth"], None),
    ],
)
def test_the_command_name_is_found_after_the_global_options(
    args: list[str], name: str | None
) -> None:
    assert _fastparams._command_name(args) == name


def test_select_app_keeps_only_the_named_group_or_command() -> None:
    from knoxhook.cli.main import app

    selected = _fastparams.select_app(app, ["--json", "auth", "status"])
    assert selected is not app
    assert [g.typer_instance.info.name for g in selected.registered_groups] == ["auth"]
    (auth,) = selected.registered_groups
    assert [c.callback.__name__ for c in auth.typer_instance.registered_commands] == ["status"]
    assert selected.registered_commands == []
    assert selected.registered_callback is app.registered_callback
    assert len(app.registered_groups) > 1  # the original is untouched
    for args in (["no-such-command"], ["--version"]):
        assert _fastparams.select_app(app, args) is app
    whole = _fastparams.select_app(app, ["auth", "--help"]).registered_groups[0]
    assert len(whole.typer_instance.registered_commands) == 4  # login, status, token, logout


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
        ["--json", "auth", "status"],
        ["events", "--service", "KG", "--json"],
        ["subscribe", "--help"],
    ],
)
def test_a_selected_app_behaves_exactly_like_the_full_app(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from knoxhook.cli.main import app

    def outcome(which: Any) -> tuple[str, str, str]:
        try:
            which(args=args, prog_name="knoxhook", standalone_mode=False)
            result = "ok"
        except BaseException as exc:  # what the one error boundary would map
            result = f"{type(exc).__name__}: {exc}"
        out, err = capsys.readouterr()
        return result, out, err

    full = outcome(app)
    assert outcome(_fastparams.select_app(app, args)) == full

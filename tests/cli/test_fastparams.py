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
from knoxhook.cli.main import main, usage_message
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


def test_refused_values_keep_typers_errors_and_the_boundary_names_choices_plainly() -> None:
    with pytest.raises(typer.BadParameter, match=r"'green' is not one of 'red', 'blue'") as bad:
        run_app("--colour", "green")
    assert usage_message(bad.value) == (
        "Invalid value for '--colour': 'green' is not one of: red, blue."
    )
    with pytest.raises(typer.BadParameter, match="greater than or equal to 1") as low:
        run_app("--count", "0")
    assert "greater than or equal to 1" in usage_message(low.value)
    with pytest.raises(typer.BadParameter):
        run_app("--count", "many")


def test_a_bad_output_format_is_still_usage_error_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--output", "xml", "auth", "status"])
    assert exc.value.code == 2
    assert "'xml' is not one of: table, json, yaml, ndjson, tsv." in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--output", "JSON", "--profile", "p1", "auth", "status"])
    assert exc.value.code == 3  # not configured, but the options were understood:
    error = json.loads(capsys.readouterr().err)["error"]  # JSON, about profile p1
    assert error["code"] == "not_configured"
    assert "profile 'p1' does not exist" in error["message"]


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


# Real command lines: the values people type, right and wrong, for every kind of
# parameter the commands have (str, Enum any case, int, float, Path, repeated, argument).
SAMPLE_ARGV = [
    ["--json", "-p", "prod", "subscriptions", "list"],
    ["--output", "JSON", "auth", "status"],
    ["--output", "xml", "auth", "status"],
    ["-o", "ndjson", "-v", "--debug", "events", "--service", "kdms"],
    ["events", "-s", "kx"],
    ["subscribe", "--url", "https://h.example/k", "-e", "KG_DEVICE_LOCKED", "-e",
     "KDMS_DEVICE_UPLOAD", "--allow-http", "-o", "Yaml"],
    ["subscriptions", "update", "ID1", "--add-event", "A", "--remove-event", "B", "--url", "u"],
    ["subscriptions", "delete", "a", "b", "--yes", "--json"],
    ["subscriptions", "get"],
    ["subscriptions", "get", "x", "--output", "tabel"],
    ["cert", "fetch", "--out", "knox.pem"],
    ["cert", "show", "-f", "x.pem", "-o", "yaml"],
    ["listen", "--port", "0", "--nonce-window", "60", "--cert", "a.pem", "--cert", "b.pem",
     "--record", "r.ndjson", "--forward-to", "http://127.0.0.1:1/x"],
    ["listen", "--port", "http"],
    ["listen", "--nonce-window", "nan"],
    ["verify", "--body", "-", "--signature", "S", "--nonce", "n", "--explain"],
    ["verify", "--nonce-db", "n.sqlite3"],
    ["trigger", "KG_DEVICE_LOCKED", "--trace-id", "t", "--emulator", "http://127.0.0.1:1"],
    ["emulator", "run", "--port", "0", "--delivery-retries", "3", "--client", "a:b"],
    ["emulator", "run", "--delivery-retries", "many"],
    ["ui", "--listen", "70000", "--follow", "f.ndjson", "--path", "/k"],
    ["auth", "login", "--client-id", "x", "--client-secret-stdin", "--insecure-storage"],
    ["auth", "token", "--output", "NDJSON"],
]  # fmt: skip


def parse(args: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """Parse and coerce ``args`` down to the command they name, invoking nothing:
    ("ok", the parameters of each level) or (the error, what was parsed before it)."""
    import typer.main
    from typer.core import TyperGroup

    from knoxhook.cli.main import app

    levels: list[dict[str, Any]] = []
    command: Any = typer.main.get_command(app)  # built afresh: nothing coerced yet
    try:
        ctx = command.make_context("knoxhook", list(args))
        levels.append(dict(ctx.params))
        while isinstance(command, TyperGroup):
            rest = [*ctx._protected_args, *ctx.args]
            name, command, rest = command.resolve_command(ctx, rest)
            ctx = command.make_context(name, rest, parent=ctx)
            levels.append(dict(ctx.params))
    except typer.BadParameter as exc:
        return f"{type(exc).__name__}: {usage_message(exc)}", levels
    except Exception as exc:
        return f"{type(exc).__name__}: {getattr(exc, 'message', exc)}", levels
    return "ok", levels


def test_patched_and_unpatched_coercion_agree_on_real_argv(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer import core

    patched = core.build_runtime_param
    assert patched.knoxhook_fast is True  # type: ignore[attr-defined]
    fast = [parse(args) for args in SAMPLE_ARGV]
    monkeypatch.setattr(core, "build_runtime_param", patched.knoxhook_original)  # type: ignore[attr-defined]
    typers = [parse(args) for args in SAMPLE_ARGV]
    for args, mine, theirs in zip(SAMPLE_ARGV, fast, typers, strict=True):
        assert repr(mine) == repr(theirs), args  # repr: nan == nan
    outcomes = [outcome for outcome, _ in fast]
    assert outcomes.count("ok") >= 12  # the sample parses, not only fails
    assert (
        "BadParameter: Invalid value for '--service' / '-s': 'kx' is not one of: KG, KE, "
        "KAI, KDMS, KC." in outcomes
    )
    assert fast[3][1][-1]["service"] == "KDMS"  # "kdms" is the documented KDMS

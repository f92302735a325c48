"""The one invocation context: global options and every terminal decision, made once."""

from __future__ import annotations

import io

import pytest

from knoxhook.cli import context, display
from knoxhook.cli.context import Environment, Invocation, OutputFormat
from knoxhook.cli.main import main


def env(*, stdin: bool = True, stdout: bool = True, stderr: bool = True,
        **variables: str) -> Environment:  # fmt: skip
    return Environment(io.StringIO(), io.StringIO(), io.StringIO(), stdin, stdout, stderr,
                       variables)  # fmt: skip


def test_colour_only_on_a_terminal_in_table_format_without_no_color_or_ci() -> None:
    assert Invocation(env()).colour() is True
    assert Invocation(env(stdout=False)).colour() is False
    assert Invocation(env(stdout=False)).colour(stderr=True) is True
    assert Invocation(env(), no_color=True).colour() is False
    assert Invocation(env(NO_COLOR="1")).colour() is False
    assert Invocation(env(CI="true")).colour(stderr=True) is False
    assert Invocation(env(), output=OutputFormat.JSON).colour() is False


def test_prompting_needs_a_terminal_on_stdin_and_stderr_and_no_ci() -> None:
    assert Invocation(env(stdout=False)).may_prompt is True  # `knoxhook ... | jq` may ask
    assert Invocation(env(stdin=False)).may_prompt is False
    assert Invocation(env(stderr=False)).may_prompt is False
    assert Invocation(env(CI="1")).may_prompt is False
    assert Invocation(env(stdout=False)).full_screen is False
    assert Invocation(env(stdin=False)).stdin_is_terminal is False


def test_the_root_callback_completes_the_invocation_main_made(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[Invocation] = []
    made: list[Invocation] = []
    real_from_argv = Invocation.from_argv

    def from_argv(args: list[str], environment: Environment | None = None) -> Invocation:
        made.append(real_from_argv(args, environment))
        return made[-1]

    monkeypatch.setattr(Invocation, "from_argv", from_argv)
    monkeypatch.setattr(display, "emit", lambda *a, **k: seen.append(context.current()))
    with pytest.raises(SystemExit) as exc:
        main(["-p", "staging", "-v", "--no-color", "events", "--json"])
    assert exc.value.code == 0
    (invocation,) = made  # made once
    assert seen == [invocation]  # and the one the command saw
    assert (invocation.profile, invocation.verbose, invocation.no_color) == ("staging", True, True)
    assert invocation.output is OutputFormat.JSON  # the command's --json


def test_a_usage_error_after_the_command_is_json_when_json_is_anywhere_in_argv(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["subscriptions", "get", "--output", "NDJSON"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith('{"error": {"code": "usage_error"')


def test_helpers_write_to_the_streams_of_the_installed_invocation() -> None:
    invocation = Invocation(env(stdout=False, stderr=False), output=OutputFormat.NDJSON)
    with context.use(invocation):
        display.emit([{"a": 1}, {"a": 2}])
        display.info("note [b]x[/b]")
        display.report_error("not_found", "gone", None)
    assert invocation.env.stdout.getvalue() == '{"a": 1}\n{"a": 2}\n'  # type: ignore[attr-defined]
    assert invocation.env.stderr.getvalue() == (  # type: ignore[attr-defined]
        'note [b]x[/b]\n{"error": {"code": "not_found", "message": "gone", "hint": null}}\n'
    )
    assert context.current() is not invocation  # uninstalled after the block

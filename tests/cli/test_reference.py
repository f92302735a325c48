"""docs/cli.md is the generated command reference, and cannot go stale unnoticed.

CI runs pytest, so ``test_docs_cli_md_is_the_generated_reference`` IS the staleness
check; the other tests show it cannot pass vacuously: a changed help text makes the file
stale, every command, option, help line and example of the live commands is in it, and
its text depends on nothing but the commands (not the terminal's width, HOME, or the
working directory).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from knoxhook.cli import auth, helptext, reference, registry

REGENERATE = "uv run python -m knoxhook.cli.reference --write"


def test_docs_cli_md_is_the_generated_reference() -> None:
    problem = reference.stale()
    assert problem is None, problem


def test_a_changed_help_text_makes_the_committed_reference_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    committed = reference.DOC.read_text(encoding="utf-8")
    assert reference.stale_message(reference.DOC, committed, reference.render()) is None
    doc = auth.token.__doc__ or ""
    assert "for use with curl." in doc
    monkeypatch.setattr(auth.token, "__doc__", doc.replace("for use with curl.", "for wget."))
    message = reference.stale_message(reference.DOC, committed, reference.render())
    assert message is not None
    assert message.splitlines()[0] == (
        f"{reference.DOC} is stale (the commands changed): run `{REGENERATE}`"
    )
    assert "+Print a valid access token (the cached one, or a new one) for wget." in message
    assert "-Print a valid access token (the cached one, or a new one) for use with curl." in (
        message
    )


def _sections(text: str) -> dict[str, str]:
    """Each ``## `knoxhook ...` `` section of docs/cli.md, Markdown escapes undone."""
    text = text.replace("&lt;", "<").replace("\\*", "*").replace("\\|", "|")
    parts = re.split(r"^#{2,4} `(knoxhook[^`]*)`$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _check(command: Any, path: tuple[str, ...], sections: dict[str, str]) -> int:
    """Assert ``command`` (and its subcommands) are in their sections; count the options."""
    name = " ".join(path)
    assert name in sections, f"{name} has no section in docs/cli.md"
    section = sections[name]
    assert " ".join(command.get_short_help_str(10**6).split()) in section
    lines = {line.strip() for line in section.splitlines()}
    for line in helptext.example_lines(command.help):
        assert line in lines, f"{name}: example {line!r} missing (or not on a line of its own)"
    terms = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
    checked = 0
    for param in command.params:
        if param.hidden or "--help" in param.opts:
            continue
        for opt in param.opts if param.param_type_name == "option" else ():
            assert any(opt in re.split(r"[ ,/;]+", term) for term in terms), f"{name}: {opt}"
        if getattr(param, "help", None):
            assert " ".join(param.help.split()) in section, f"{name}: help of {param.opts}"
        checked += 1
    for sub in getattr(command, "commands", {}).values() or ():
        checked += _check(sub, (*path, sub.name), sections)
    if isinstance(command, registry.LazySubgroup):
        for sub_name in command.list_commands(None):
            checked += _check(command.get_command(None, sub_name), (*path, sub_name), sections)
    return checked


def test_every_command_option_help_and_example_is_in_docs_cli_md() -> None:
    sections = _sections(reference.DOC.read_text(encoding="utf-8"))
    options = sum(
        _check(registry.load(name, entry), ("knoxhook", name), sections)
        for name, entry in registry.COMMANDS.items()
    )
    assert options > 100  # the walk really reached the options
    for needle in ("--client-secret-stdin", "--signing", "--nonce-db", "--min-days"):
        assert needle in reference.DOC.read_text(encoding="utf-8")


def _reference_process(cwd: Path, *args: str, columns: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNOXHOOK_")}
    env.update(COLUMNS=columns, HOME=str(cwd), KNOXHOOK_CONFIG_DIR=str(cwd / "config"))
    return subprocess.run(
        [sys.executable, "-m", "knoxhook.cli.reference", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_reference_does_not_depend_on_the_terminal_home_or_working_directory(
    tmp_path: Path,
) -> None:
    narrow = _reference_process(tmp_path, columns="40")
    assert narrow.returncode == 0, narrow.stderr
    assert narrow.stdout == reference.render()
    assert narrow.stdout == reference.DOC.read_text(encoding="utf-8")


def test_check_exits_1_on_a_stale_file_naming_the_command_that_regenerates_it(
    tmp_path: Path,
) -> None:
    stale = tmp_path / "cli.md"
    stale.write_text(reference.render().replace("for use with curl.", "for wget."))
    result = _reference_process(tmp_path, "--check", "--path", str(stale), columns="200")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"{stale} is stale (the commands changed): run `{REGENERATE}`"
    )
    assert "-Print a valid access token (the cached one, or a new one) for wget." in result.stderr
    written = _reference_process(tmp_path, "--write", "--path", str(stale), columns="200")
    assert written.returncode == 0, written.stderr
    assert stale.read_text() == reference.render()
